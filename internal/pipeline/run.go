package pipeline

import (
	"context"
	"fmt"
	"io"
	"slices"
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

// Signer signs and attests the built digest in one repository, and
// verifies what it signed in any repository holding a copy.
type Signer interface {
	Sign(ctx context.Context, s *SignPlan, repo string, built *BuildResult, scanned *ScanResult) (*SignResult, error)
	Verify(ctx context.Context, s *SignPlan, repos []string, built *BuildResult, signed *SignResult) error
}

// Copier copies the built digest, and the signature and attestation
// manifests tagged artifacts in from, to other repositories, by digest:
// only blobs a destination lacks are uploaded, and inside one registry
// they are mounted across repositories.
type Copier interface {
	Copy(ctx context.Context, from string, to []string, built *BuildResult, artifacts []string) error
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
	Copier   Copier
	Tagger   Tagger
	Notifier Notifier
}

// reportTimeout bounds the report after the run was interrupted.
const reportTimeout = 30 * time.Second

// Run carries out the plan's steps in order with the given stages. The
// first failing step stops the run: no later step runs (no tag moves)
// except the report, which always runs so that a failure is reported too.
// The error is an *errs.StageError for the failed step.
func Run(ctx context.Context, p *Plan, st Stages) (*Result, error) {
	r := &Result{Warnings: slices.Clone(p.Warnings)}
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
		if err == nil && p.Publish.Push {
			r.published(p.Publish.Primary())
		}
	case StageScan:
		r.Scan, err = st.Scanner.Scan(ctx, &p.Scan, r.Build)
	case StageGate:
		if r.Scan != nil && !r.Scan.Passed && p.Scan.Fail {
			err = fmt.Errorf("%s; the digest was left untagged", r.Scan.Verdict)
		}
	case StageSign:
		r.Sign, err = st.Signer.Sign(ctx, &p.Sign, p.Publish.Primary(), r.Build, r.Scan)
	case StageVerify:
		err = st.Signer.Verify(ctx, &p.Sign, []string{p.Publish.Primary()}, r.Build, r.Sign)
		if err == nil && r.Sign != nil {
			r.Sign.Verified = true
		}
	case StageCopy:
		err = r.copy(ctx, p, st)
	case StageTag:
		err = st.Tagger.Tag(ctx, step.Repository, r.Build.Digest, p.Publish.Tags[step.Repository])
		if err == nil {
			r.tagged(step.Repository, p.Publish.Tags[step.Repository])
		}
	case StageReport:
		err = st.Notifier.Notify(ctx, p, r)
	default:
		err = fmt.Errorf("unknown stage %q", step.Stage)
	}
	return err
}

// copy copies the digest and its signatures from the first repository
// to the others, then verifies the signatures there before any tag moves.
func (r *Result) copy(ctx context.Context, p *Plan, st Stages) error {
	from, to := p.Publish.Primary(), p.Publish.Copies()
	var artifacts []string
	if r.Sign != nil {
		artifacts = r.Sign.Artifacts
	}
	if err := st.Copier.Copy(ctx, from, to, r.Build, artifacts); err != nil {
		return err
	}
	for _, repo := range to {
		r.published(repo)
		if r.Sign != nil {
			for _, a := range artifacts {
				r.Sign.Signatures = append(r.Sign.Signatures, repo+":"+a)
			}
		}
	}
	if p.Sign.Enabled {
		if err := st.Signer.Verify(ctx, &p.Sign, to, r.Build, r.Sign); err != nil {
			return fmt.Errorf("verifying the copied signatures: %w", err)
		}
	}
	return nil
}

func (r *Result) published(repo string) {
	r.Images = append(r.Images, PublishedImage{Repository: repo, Ref: repo + "@" + r.Build.Digest, Tags: []string{}})
}

func (r *Result) tagged(repo string, tags []string) {
	for i := range r.Images {
		if r.Images[i].Repository == repo {
			for _, t := range tags {
				r.Images[i].Tags = append(r.Images[i].Tags, repo+":"+t)
			}
		}
	}
}

// Nop returns stages that do nothing but say, on w, what they would do:
// the --dry-run set, after ko's nopPublisher.
func Nop(w io.Writer) Stages {
	n := nop{w}
	return Stages{Builder: n, Scanner: n, Signer: n, Copier: n, Tagger: n, Notifier: n}
}

type nop struct{ w io.Writer }

func (n nop) say(format string, args ...any) { fmt.Fprintf(n.w, "  would "+format+"\n", args...) }

func (n nop) Build(_ context.Context, b *BuildPlan, pub *PublishPlan) (*BuildResult, error) {
	n.say("build %s (context %s) and keep an OCI layout under %s", b.File, b.Context, b.OutputDir)
	if pub.Push {
		n.say("push by digest to %s", pub.Primary())
	}
	return &BuildResult{LayoutDir: b.OutputDir}, nil
}

func (n nop) Scan(_ context.Context, s *ScanPlan, _ *BuildResult) (*ScanResult, error) {
	n.say("scan with Trivy, gate on %v", s.Severity)
	return &ScanResult{Passed: true, Verdict: "not scanned (dry run)"}, nil
}

func (n nop) Sign(_ context.Context, s *SignPlan, repo string, _ *BuildResult, _ *ScanResult) (*SignResult, error) {
	n.say("sign (%s) in %s", s.Mode, repo)
	return &SignResult{Mode: s.Mode, TlogIndex: -1}, nil
}

func (n nop) Verify(_ context.Context, _ *SignPlan, repos []string, _ *BuildResult, _ *SignResult) error {
	n.say("verify the signatures in %v", repos)
	return nil
}

func (n nop) Copy(_ context.Context, from string, to []string, _ *BuildResult, _ []string) error {
	n.say("copy the digest and its signatures from %s to %v", from, to)
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
