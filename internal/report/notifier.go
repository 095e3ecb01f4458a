// Package report tells the people and machines that started a run what it
// did, from the result model (pipeline.Plan and pipeline.Result):
//
//   - on GitHub, step outputs and the job summary (through ci.Outputs);
//   - on every provider, under the output directory: slipway-report.json
//     (File), slipway-summary.md (the job summary's Markdown) and
//     slipway.env (Dotenv, for GitLab's artifacts:reports:dotenv; on
//     Jenkins and locally a file to source);
//   - a sticky comment on the pull request (GitHub) or merge request
//     (GitLab), also from Jenkins for a change request of a repository on
//     either (see comment.go);
//   - a readable summary on the log (stderr) at the end of the run.
package report

import (
	"github.com/google/go-containerregistry/pkg/name"

	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/units"
)

// apiTimeout bounds one API call when Notifier.HTTPClient is nil.
const apiTimeout = 10 * time.Second

// Notifier reports a run. Every field but Outputs and Log may be left
// empty: no CI context means no comment, no metadata no metadata outputs.
type Notifier struct {
	// Outputs receives the step outputs and the job summary on GitHub.
	// On GitLab, Jenkins and locally it is not written to: the files the
	// report writes under the output directory are the outputs there
	// (ci's file outputs would write the same two files).
	Outputs ci.Outputs
	// Log receives the readable summary (stderr).
	Log io.Writer
	// CI is the run's context: provider, change request, and the code
	// host (Forge) that takes the comment.
	CI *ci.Context
	// Meta is the metadata step's result, for metadata-action's outputs.
	Meta *meta.Result
	// Comment is the comment input: auto (the default when empty),
	// always or never.
	Comment mode.Comment
	// GitLabToken is the gitlab-token input (a secret), for MR notes.
	GitLabToken string
	// HTTPClient calls the GitHub or GitLab API; nil means a client with
	// a 10 s timeout.
	HTTPClient *http.Client
}

// Notify implements pipeline.Notifier. It runs after a failed step too.
// A comment that could not be posted is a warning of the result, never an
// error; failing to write an output or a file is an error.
func (n *Notifier) Notify(ctx context.Context, p *pipeline.Plan, r *pipeline.Result) error {
	f := newFacts(r, imageID(r.Build))
	// The comment first, so that the summary can say why there is none.
	mark := marker(p)
	cs, note := n.comment(ctx, p, mark+"\n"+Markdown(p, r, CommentLimit-utf8.RuneCountInString(mark)-1))
	if note != "" {
		r.Warnings = append(r.Warnings, note)
	}
	md := Markdown(p, r, CommentLimit)
	dir := p.Report.OutputDir
	if dir == "" {
		dir = ci.DefaultOutputDir
	}
	reportPath := filepath.Join(dir, ReportFile)
	var errs []error
	if err := writeFiles(dir, newFile(p, r, f, cs), md, Dotenv(p, r, reportPath, f)); err != nil {
		errs = append(errs, err)
	}
	if n.CI != nil && n.CI.Provider == ci.NameGitHub && n.Outputs != nil {
		primary, _ := p.Publish.Primary()
		errs = append(errs, n.github(r, f, primary, reportPath, md))
	}
	n.logSummary(p, r, cs, dir)
	return errors.Join(errs...)
}

// github sets the step outputs and adds the job summary.
func (n *Notifier) github(r *pipeline.Result, f facts, primary name.Repository, reportPath, md string) error {
	outputs, err := stepOutputs(r, n.Meta, f, primary, reportPath)
	if err != nil {
		return err
	}
	for _, kv := range outputs {
		if err := n.Outputs.SetOutput(kv[0], kv[1]); err != nil {
			return fmt.Errorf("setting output %s: %w", kv[0], err)
		}
	}
	if err := n.Outputs.AddSummary(md); err != nil {
		fmt.Fprintf(n.Log, "warning: writing the job summary: %v\n", err)
	}
	return nil
}

// logSummary writes the readable summary on the log.
func (n *Notifier) logSummary(p *pipeline.Plan, r *pipeline.Result, cs CommentStatus, dir string) {
	var b strings.Builder
	if r.Failed != nil {
		fmt.Fprintf(&b, "\nslipway: failed at %s: %s\n", r.Failed.Stage, r.Error)
	} else {
		b.WriteString("\nslipway: passed\n")
	}
	if bd := r.Build; bd != nil {
		fmt.Fprintf(&b, "  built %s in %s, %d of %d steps cached\n", bd.DigestStr(), duration(bd.Duration), bd.CachedSteps, bd.Steps)
		for _, pi := range bd.Platforms {
			fmt.Fprintf(&b, "    %-14s %s  %s\n", pi.Platform, pi.Digest, units.Bytes(pi.Size))
		}
		for _, n := range bd.Nodes {
			fmt.Fprintf(&b, "    node %s built %s in %s\n", n.Address, strings.Join(n.Platforms, ", "), duration(n.Duration))
		}
		for _, img := range r.Images {
			fmt.Fprintf(&b, "  pushed %s", img.Ref)
			if len(img.Tags) > 0 {
				fmt.Fprintf(&b, " tagged %s", joinTags(img.Tags))
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  OCI layout: %s\n", bd.LayoutDir)
	}
	if c := r.Call; c != nil && c.Call == "check" {
		fmt.Fprintf(&b, "  Dockerfile checks: %d %s\n", len(c.Warnings), plural(len(c.Warnings), "warning", "warnings"))
		for _, w := range c.Warnings {
			fmt.Fprintf(&b, "    %s: %s: %s\n", w.Where(), w.Rule, w.Detail)
		}
	}
	if l := r.Load; l != nil {
		fmt.Fprintf(&b, "  loaded into the Docker Engine at %s as %s %s\n", l.DockerHost, l.ImageID, joinTags(l.Tags))
	}
	if s := r.Scan; s != nil {
		var counts []string
		for _, sev := range severities {
			counts = append(counts, fmt.Sprintf("%d %s", s.Counts[sev], strings.ToLower(sev.String())))
		}
		fmt.Fprintf(&b, "  scan: %s (%s)\n", s.Verdict, strings.Join(counts, ", "))
	}
	if s := r.Sign; s != nil {
		fmt.Fprintf(&b, "  signed (%s), verified: %t\n", s.Mode, s.Verified)
		if s.VerifyCommand != "" {
			fmt.Fprintf(&b, "  verify: %s\n", s.VerifyCommand)
		}
	}
	switch cs.Action {
	case "created", "updated":
		fmt.Fprintf(&b, "  comment %s on %s %s\n", cs.Action, cs.Target, cs.URL)
	case "failed":
		fmt.Fprintf(&b, "  comment failed: %s\n", cs.Reason)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	fmt.Fprintf(&b, "  report: %s, %s, %s\n", filepath.Join(dir, ReportFile), filepath.Join(dir, SummaryFile), filepath.Join(dir, DotenvFile))
	io.WriteString(n.Log, b.String())
}
