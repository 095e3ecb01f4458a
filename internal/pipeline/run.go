package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/slipway-ci/slipway/internal/errs"
)

// The stages, each one capability behind a small interface. Real
// implementations live in internal/build, internal/scan, internal/sign,
// internal/registry and internal/report; Nop returns the dry-run set.

// Builder builds the image and, when the plan pushes, pushes it by digest.
type Builder interface {
	Build(ctx context.Context, b *BuildPlan, pub *PublishPlan) (*BuildResult, error)
}

// Scanner scans what the build left locally and applies the gate.
type Scanner interface {
	Scan(ctx context.Context, s *ScanPlan, built *BuildResult) (*ScanResult, error)
}

// Signer signs, attests and verifies a digest in each repository.
type Signer interface {
	Sign(ctx context.Context, s *SignPlan, repos []string, built *BuildResult, scanned *ScanResult) error
	Verify(ctx context.Context, s *SignPlan, repos []string, built *BuildResult) error
}

// Tagger moves tags onto the digest, last.
type Tagger interface {
	Tag(ctx context.Context, repo, digest string, tags []string) error
}

// Notifier reports the result (outputs, summary, comment).
type Notifier interface {
	Notify(ctx context.Context, p *Plan, r *Result) error
}

// Stages is one implementation of every stage.
type Stages struct {
	Builder  Builder
	Scanner  Scanner
	Signer   Signer
	Tagger   Tagger
	Notifier Notifier
}

// BuildResult is what the build stage produced.
type BuildResult struct {
	Digest    string          `json:"digest"` // index (or manifest) digest; "" in a dry run
	Platforms []PlatformImage `json:"platforms"`
	LayoutDir string          `json:"layout-dir"` // local OCI layout of the result
	// Metadata is what buildx writes to --metadata-file
	// (containerimage.digest, containerimage.descriptor, image.name).
	Metadata map[string]any `json:"metadata,omitempty"`
	Duration time.Duration  `json:"duration"`
	// Steps counts the Dockerfile steps, CachedSteps those served from cache.
	Steps       int `json:"steps"`
	CachedSteps int `json:"cached-steps"`
}

// PlatformImage is one platform's manifest.
type PlatformImage struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
}

// ScanResult is the scan's verdict.
type ScanResult struct {
	Counts  map[string]int `json:"counts"`
	Passed  bool           `json:"passed"`
	Verdict string         `json:"verdict"`
}

// Result is what a run did.
type Result struct {
	DryRun bool         `json:"dry-run"`
	Build  *BuildResult `json:"build,omitempty"`
	Scan   *ScanResult  `json:"scan,omitempty"`
	Done   []Step       `json:"done"`
	// Failed is the step that failed and Error why; nil on success.
	Failed *Step  `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`
}

// reportTimeout bounds the report after the run was interrupted.
const reportTimeout = 30 * time.Second

// Run carries out the plan's steps in order with the given stages. The
// first failing step stops the run: no later step runs (no tag moves)
// except the report, which always runs so that a failure is reported too.
// The error is an *errs.StageError for the failed step.
func Run(ctx context.Context, p *Plan, st Stages) (*Result, error) {
	r := &Result{}
	var failure error
	for _, step := range p.Steps {
		if failure != nil && step.Stage != StageReport {
			continue
		}
		err := ctx.Err()
		switch {
		case step.Stage == StageReport:
			// The report tells of a failure or an interruption too.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
			err = runStep(rctx, p, st, r, step)
			cancel()
		case err == nil:
			err = runStep(ctx, p, st, r, step)
		}
		if err != nil {
			err = errs.Stage(string(step.Stage), err)
			if failure == nil {
				failure, r.Failed, r.Error = err, &step, err.Error()
			}
			continue
		}
		r.Done = append(r.Done, step)
	}
	return r, failure
}

func runStep(ctx context.Context, p *Plan, st Stages, r *Result, step Step) error {
	var err error
	switch step.Stage {
	case StageBuild:
		r.Build, err = st.Builder.Build(ctx, &p.Build, &p.Publish)
	case StageScan:
		r.Scan, err = st.Scanner.Scan(ctx, &p.Scan, r.Build)
	case StageGate:
		if r.Scan != nil && !r.Scan.Passed && p.Scan.Fail {
			err = fmt.Errorf("%s; the digest was left untagged", r.Scan.Verdict)
		}
	case StageSign:
		err = st.Signer.Sign(ctx, &p.Sign, p.Publish.Repositories, r.Build, r.Scan)
	case StageVerify:
		err = st.Signer.Verify(ctx, &p.Sign, p.Publish.Repositories, r.Build)
	case StageTag:
		err = st.Tagger.Tag(ctx, step.Repository, r.Build.Digest, p.Publish.Tags[step.Repository])
	case StageReport:
		err = st.Notifier.Notify(ctx, p, r)
	default:
		err = fmt.Errorf("unknown stage %q", step.Stage)
	}
	return err
}

// Nop returns stages that do nothing but say, on w, what they would do:
// the --dry-run set, after ko's nopPublisher.
func Nop(w io.Writer) Stages {
	n := nop{w}
	return Stages{Builder: n, Scanner: n, Signer: n, Tagger: n, Notifier: n}
}

type nop struct{ w io.Writer }

func (n nop) say(format string, args ...any) { fmt.Fprintf(n.w, "  would "+format+"\n", args...) }

func (n nop) Build(_ context.Context, b *BuildPlan, pub *PublishPlan) (*BuildResult, error) {
	n.say("build %s (context %s) and keep an OCI layout under %s", b.File, b.Context, b.OutputDir)
	if pub.Push {
		n.say("push by digest to %v", pub.Repositories)
	}
	return &BuildResult{LayoutDir: b.OutputDir}, nil
}

func (n nop) Scan(_ context.Context, s *ScanPlan, _ *BuildResult) (*ScanResult, error) {
	n.say("scan with Trivy, gate on %v", s.Severity)
	return &ScanResult{Passed: true, Verdict: "not scanned (dry run)"}, nil
}

func (n nop) Sign(_ context.Context, s *SignPlan, repos []string, _ *BuildResult, _ *ScanResult) error {
	n.say("sign (%s) in %v", s.Mode, repos)
	return nil
}

func (n nop) Verify(_ context.Context, s *SignPlan, repos []string, _ *BuildResult) error {
	n.say("verify the signatures in %v", repos)
	return nil
}

func (n nop) Tag(_ context.Context, repo, _ string, tags []string) error {
	n.say("tag %s with %v", repo, tags)
	return nil
}

func (n nop) Notify(_ context.Context, p *Plan, _ *Result) error {
	n.say("report: %s", p.Report.Comment)
	return nil
}
