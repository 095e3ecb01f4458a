package pipeline

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/severity"
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

// Comparer compares the built and scanned image with a base image. A
// base it cannot read is reported in the result, not an error.
type Comparer interface {
	Compare(ctx context.Context, c *ComparePlan, s *ScanPlan, built *BuildResult, scanned *ScanResult) (*CompareResult, error)
}

// Signer signs and attests the built digest in one repository, and
// verifies what it signed in any repository holding a copy.
type Signer interface {
	Sign(ctx context.Context, s *SignPlan, repo name.Repository, built *BuildResult, scanned *ScanResult) (*SignResult, error)
	Verify(ctx context.Context, s *SignPlan, repos []name.Repository, built *BuildResult, signed *SignResult) error
}

// Copier copies the built digest src (read from the build's OCI layout
// in layoutDir), and cosign's manifests attached to it in its
// repository, to other repositories, by digest: only blobs a
// destination lacks are uploaded, and inside one registry they are
// mounted across repositories.
type Copier interface {
	Copy(ctx context.Context, src CopySource, to []name.Repository) error
}

// CopySource is what a copy carries (artifact.CopySource: the registry
// package reads it too).
type CopySource = artifact.CopySource

// SourceReader reads and verifies the image slipway promote moves.
type SourceReader interface {
	// Resolve reads the source's digest and platforms (manifests only).
	Resolve(ctx context.Context, p *PromotePlan) (*BuildResult, error)
	// VerifySource verifies its signatures and attestations in its
	// repository by the plan's identity, and says what the copy carries
	// and verifies again at the destinations. An unsigned source, or one
	// signed by someone else, is an error.
	VerifySource(ctx context.Context, p *PromotePlan, s *SignPlan, src *BuildResult) (*SignResult, error)
}

// Caller evaluates a call (check, outline, targets) in place of the
// build. A failed check returns its result with the error.
type Caller interface {
	Call(ctx context.Context, b *BuildPlan) (*CallResult, error)
}

// Loader loads the built image (its one platform) into a Docker Engine
// under tags.
type Loader interface {
	Load(ctx context.Context, l *LoadPlan, tags []name.Tag, built *BuildResult) (*LoadResult, error)
}

// Tagger moves tags onto the digest, last.
type Tagger interface {
	Tag(ctx context.Context, d name.Digest, tags []name.Tag) error
}

// Recorder records a partial run's platform image and scan, for slipway
// merge, in the repository the build pushed to.
type Recorder interface {
	Record(ctx context.Context, repo name.Repository, built *BuildResult, scanned *ScanResult) (*PartialResult, error)
}

// Notifier reports the result (outputs, summary, comment).
type Notifier interface {
	Notify(ctx context.Context, p *Plan, r *Result) error
}

// Stages is one implementation of every stage.
type Stages struct {
	Builder  Builder
	Scanner  Scanner
	Comparer Comparer
	Signer   Signer
	Copier   Copier
	Tagger   Tagger
	Recorder Recorder
	Notifier Notifier
	// Source is slipway promote's; nil for the other commands.
	Source SourceReader
	Caller Caller
	Loader Loader
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
		if primary, push := p.Publish.Primary(); err == nil && push {
			r.published(primary)
		}
	case StageCall:
		r.Call, err = st.Caller.Call(ctx, &p.Build)
	case StageLoad:
		r.Load, err = st.Loader.Load(ctx, p.Build.Load, p.Publish.Tags, r.Build)
	case StageScan:
		r.Scan, err = st.Scanner.Scan(ctx, &p.Scan, r.Build)
	case StageCompare:
		r.Compare, err = st.Comparer.Compare(ctx, &p.Compare, &p.Scan, r.Build, r.Scan)
	case StageGate:
		err = gate(p, r)
	case StageSign:
		primary, _ := p.Publish.Primary()
		r.Sign, err = st.Signer.Sign(ctx, &p.Sign, primary, r.Build, r.Scan)
	case StageVerify:
		primary, _ := p.Publish.Primary()
		err = st.Signer.Verify(ctx, &p.Sign, []name.Repository{primary}, r.Build, r.Sign)
		if err == nil && r.Sign != nil {
			r.Sign.Verified = true
		}
	case StageCopy:
		err = r.copy(ctx, p, st)
	case StageTag:
		tags := p.Publish.TagsIn(step.Repository)
		err = st.Tagger.Tag(ctx, r.Build.In(step.Repository), tags)
		if err == nil {
			r.tagged(step.Repository, tags)
		}
	case StageRecord:
		primary, _ := p.Publish.Primary()
		r.Partial, err = st.Recorder.Record(ctx, primary, r.Build, r.Scan)
	case StageSource:
		r.Build, err = st.Source.Resolve(ctx, p.Promote)
	case StageVerifySource:
		r.Sign, err = st.Source.VerifySource(ctx, p.Promote, &p.Sign, r.Build)
		if err == nil {
			r.Sign.Verified = true
		}
	case StageReport:
		err = st.Notifier.Notify(ctx, p, r)
	default:
		err = fmt.Errorf("unknown stage %q", step.Stage)
	}
	return err
}

// copy copies the digest and its signatures from the first repository
// to the others (slipway promote: from the source's repository to every
// repository), then verifies the signatures there before any tag moves.
func (r *Result) copy(ctx context.Context, p *Plan, st Stages) error {
	if r.Build == nil {
		return fmt.Errorf("copying to %s: nothing was built", joined(p.Publish.Copies()))
	}
	from, _ := p.Publish.Primary()
	to := p.Publish.Copies()
	src := CopySource{Ref: r.Build.In(from), LayoutDir: r.Build.LayoutDir}
	if p.Promote != nil {
		to = p.Publish.Repositories
		src = CopySource{Ref: p.Promote.Source, AllReferrers: true}
	}
	if r.Sign != nil {
		src.Attached = r.Sign.Artifacts
		if p.Sign.Format.Bundle() || p.Promote != nil {
			src.ReferrersOf = r.Sign.Signed
		}
	}
	if err := st.Copier.Copy(ctx, src, to); err != nil {
		return err
	}
	for _, repo := range to {
		r.published(repo)
		if r.Sign != nil {
			for _, a := range src.Attached {
				r.Sign.Signatures = append(r.Sign.Signatures, a.In(repo))
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

func (r *Result) published(repo name.Repository) {
	r.Images = append(r.Images, PublishedImage{Repository: repo, Ref: r.Build.In(repo), Tags: []name.Tag{}})
}

func (r *Result) tagged(repo name.Repository, tags []name.Tag) {
	for i := range r.Images {
		if r.Images[i].Repository == repo {
			r.Images[i].Tags = append(r.Images[i].Tags, tags...)
		}
	}
}

// Nop returns stages that do nothing but say, on w, what they would do:
// the --dry-run set, after ko's nopPublisher.
func Nop(w io.Writer) Stages {
	n := nop{w}
	return Stages{Builder: n, Scanner: n, Comparer: n, Signer: n, Copier: n, Tagger: n, Recorder: n, Notifier: n, Source: n, Caller: n, Loader: n}
}

func (n nop) Call(_ context.Context, b *BuildPlan) (*CallResult, error) {
	n.say("evaluate call %s on %s and print its result", b.Call.Shown(), b.File)
	return &CallResult{Call: b.Call.Shown()}, nil
}

func (n nop) Load(_ context.Context, l *LoadPlan, tags []name.Tag, _ *BuildResult) (*LoadResult, error) {
	n.say("load the image into the Docker Engine at %s as %s", l.DockerHost, joined(tags))
	return &LoadResult{DockerHost: l.DockerHost, Tags: tags}, nil
}

type nop struct{ w io.Writer }

func (n nop) say(format string, args ...any) { fmt.Fprintf(n.w, "  would "+format+"\n", args...) }

func (n nop) Build(_ context.Context, b *BuildPlan, pub *PublishPlan) (*BuildResult, error) {
	n.say("build %s (context %s) and keep an OCI layout under %s", b.File, b.Context, b.OutputDir)
	if primary, push := pub.Primary(); push {
		n.say("push by digest to %s", primary)
	}
	return &BuildResult{LayoutDir: b.OutputDir}, nil
}

func (n nop) Scan(_ context.Context, s *ScanPlan, _ *BuildResult) (*ScanResult, error) {
	n.say("scan with Trivy, gate on %v", s.Severity)
	return &ScanResult{Passed: true, Verdict: "not scanned (dry run)"}, nil
}

func (n nop) Compare(_ context.Context, c *ComparePlan, _ *ScanPlan, _ *BuildResult, _ *ScanResult) (*CompareResult, error) {
	n.say("compare with %s", c.Base)
	return &CompareResult{Base: c.Base.String(), Note: "not compared (dry run)"}, nil
}

func (n nop) Sign(_ context.Context, s *SignPlan, repo name.Repository, _ *BuildResult, _ *ScanResult) (*SignResult, error) {
	n.say("sign (%s) in %s", s.Mode, repo)
	return &SignResult{Mode: s.Mode, TlogIndex: -1}, nil
}

func (n nop) Verify(_ context.Context, _ *SignPlan, repos []name.Repository, _ *BuildResult, _ *SignResult) error {
	n.say("verify the signatures in %v", repos)
	return nil
}

func (n nop) Copy(_ context.Context, src CopySource, to []name.Repository) error {
	n.say("copy the digest and its signatures from %s to %v", src.Ref.Context(), to)
	return nil
}

func (n nop) Resolve(_ context.Context, p *PromotePlan) (*BuildResult, error) {
	n.say("read %s", p.Source)
	h, err := v1.NewHash(p.Source.DigestStr())
	return &BuildResult{Digest: h, Platforms: []PlatformImage{}}, err
}

func (n nop) VerifySource(_ context.Context, p *PromotePlan, s *SignPlan, _ *BuildResult) (*SignResult, error) {
	n.say("verify the signatures of %s with %s", p.Source, p.Identity)
	return &SignResult{Mode: s.Mode, TlogIndex: -1}, nil
}

func (n nop) Tag(_ context.Context, d name.Digest, tags []name.Tag) error {
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.TagStr()
	}
	n.say("tag %s with %v", d.Context(), names)
	return nil
}

func (n nop) Record(_ context.Context, repo name.Repository, _ *BuildResult, _ *ScanResult) (*PartialResult, error) {
	n.say("record the platform's manifest and scan in %s", repo)
	return nil, nil
}

func (n nop) Notify(_ context.Context, p *Plan, _ *Result) error {
	n.say("report: %s", p.Report.Comment)
	return nil
}

// gate fails the run on the scan's blocking findings: with gate: new and
// a compared base, only on those the base does not have.
func gate(p *Plan, r *Result) error {
	if r.Scan == nil || r.Scan.Passed || !p.Scan.Fail {
		return nil
	}
	if c := r.Compare; p.Scan.GateNew && c != nil && c.Compared {
		var added []string
		for _, f := range r.Scan.Blocking {
			if slices.ContainsFunc(c.New, f.SameAs) {
				added = append(added, f.ID+" in "+f.Package+" "+f.Installed)
			}
		}
		if len(added) == 0 {
			return nil
		}
		return fmt.Errorf("%d new vulnerabilities at %s that %s does not have (gate: new): %s; the digest was left untagged",
			len(added), severity.Strings(r.Scan.Threshold), c.Base, strings.Join(added, ", "))
	}
	return fmt.Errorf("%s; the digest was left untagged", r.Scan.Verdict)
}
