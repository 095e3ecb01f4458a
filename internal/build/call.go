package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/client"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/pb"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Call implements pipeline.Caller: it evaluates the plan's call (the
// Dockerfile checks, its outline or its targets) as a subrequest of the
// Dockerfile frontend, as `docker buildx build --call` does, and builds
// nothing. The result holds what buildx prints. The checks fail the step
// only when the Dockerfile sets check=error=true (BuildKit then returns
// an error with the warnings): warnings alone are reported, not failed
// on, as the status code buildx exits with would.
func (s *Stage) Call(ctx context.Context, b *pipeline.BuildPlan) (*pipeline.CallResult, error) {
	c := b.Call
	if c == nil {
		return nil, fmt.Errorf("no call in the plan")
	}
	kv, mounts, err := frontendAttrs(b)
	if err != nil {
		return nil, err
	}
	kv["requestid"] = "frontend." + c.Name
	kv["frontend.caps"] = "moby.buildkit.frontend.subrequests"
	if c.Format == "json" {
		kv["format"] = "json"
	}
	sess, err := attachables(s.Keychain, b.Secrets, b.SSH)
	if err != nil {
		return nil, err
	}
	conn, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var meta map[string][]byte
	opt := client.SolveOpt{LocalMounts: mounts, Session: sess, AllowedEntitlements: b.Run.Entitlements}
	_, _, err = watch(ctx, s.Progress, b.Progress, func(ctx context.Context, ch chan *client.SolveStatus) (*client.SolveResponse, error) {
		return conn.Client.Build(ctx, opt, "slipway", func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
			res, err := gw.Solve(ctx, gateway.SolveRequest{Frontend: "dockerfile.v0", FrontendOpt: kv})
			if err != nil {
				return nil, err
			}
			meta = res.Metadata
			return res, nil
		}, ch)
	})
	if err != nil {
		return nil, describeSolveError(b, conn, err)
	}
	return callResult(b, c, meta)
}

// callResult reads a subrequest's metadata into the step's result,
// printed as buildx prints it.
func callResult(b *pipeline.BuildPlan, c *attrs.Call, meta map[string][]byte) (*pipeline.CallResult, error) {
	r := &pipeline.CallResult{Call: c.Shown()}
	var out bytes.Buffer
	js := meta["result.json"]
	var err error
	switch {
	case c.Format == "json":
		out.Write(js)
		out.WriteByte('\n')
	case c.Name == "outline":
		err = outline.PrintOutline(js, &out)
	case c.Name == "targets":
		err = targets.PrintTargets(js, &out)
	}
	if err != nil {
		return nil, fmt.Errorf("printing the %s: %w", c.Name, err)
	}
	if c.Name != "lint" {
		r.Printed = out.String()
		return r, statusError(c, meta)
	}
	var lr lint.LintResults
	if len(js) > 0 {
		if err := json.Unmarshal(js, &lr); err != nil {
			return nil, fmt.Errorf("reading the Dockerfile checks' result: %w", err)
		}
	}
	rename := func(si *pb.SourceInfo) *pb.SourceInfo {
		if si == nil || (si.Filename != "" && si.Filename != filepath.Base(b.File)) {
			return si
		}
		si = si.CloneVT()
		si.Filename = b.File
		return si
	}
	for _, w := range lr.Warnings {
		cw := pipeline.CheckWarning{Rule: w.RuleName, Description: w.Description, URL: w.URL, Detail: w.Detail}
		if l := w.Location; l != nil && l.SourceIndex >= 0 && int(l.SourceIndex) < len(lr.Sources) {
			cw.File = rename(lr.Sources[l.SourceIndex]).Filename
			if len(l.Ranges) > 0 && l.Ranges[0].Start != nil {
				cw.Line = int(l.Ranges[0].Start.Line)
			}
		}
		r.Warnings = append(r.Warnings, cw)
	}
	if c.Format != "json" {
		switch n := len(lr.Warnings); {
		case n == 1:
			out.WriteString("Check complete, 1 warning has been found!\n")
		case n > 1:
			fmt.Fprintf(&out, "Check complete, %d warnings have been found!\n", n)
		}
		if err := lr.PrintTo(&out, rename); err != nil {
			return nil, fmt.Errorf("printing the Dockerfile checks: %w", err)
		}
	}
	if lr.Error != nil {
		var e bytes.Buffer
		lr.PrintErrorTo(&e, rename)
		r.Error = e.String()
		if c.Format != "json" && len(lr.Warnings) > 0 {
			out.WriteByte('\n')
		}
	} else if len(lr.Warnings) == 0 && c.Format != "json" {
		out.WriteString("Check complete, no warnings found.\n")
	}
	r.Printed = out.String()
	if r.Error != "" {
		return r, fmt.Errorf("the Dockerfile checks failed (check=error=true): %s", lr.Error.Message)
	}
	return r, nil
}

// statusError is the error a subrequest's non-zero status code means,
// unless ignorestatus: outline and targets report 0.
func statusError(c *attrs.Call, meta map[string][]byte) error {
	v, ok := meta["result.statuscode"]
	if !ok || c.IgnoreStatus {
		return nil
	}
	if n, err := strconv.Atoi(string(v)); err == nil && n != 0 {
		return fmt.Errorf("call %s returned status %d", c.Shown(), n)
	}
	return nil
}
