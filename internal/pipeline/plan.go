// Package pipeline is slipway's ordered plan of stages: build (push by
// digest) → scan → gate → sign + attest → verify → copy to the other
// registries → tags → report. A Plan is computed from the configuration
// and the CI context alone, without contacting anything; Run walks its
// steps with real stages, and --dry-run walks the very same steps with
// no-op stages, so the plan that is printed is the plan that runs.
package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/severity"
)

// Redacted replaces every secret value in the plan.
const Redacted = attrs.Redacted

// Plan is everything a run will do.
type Plan struct {
	CI       CIPlan       `json:"ci"`
	Metadata MetadataPlan `json:"metadata"`
	Build    BuildPlan    `json:"build"`
	Publish  PublishPlan  `json:"publish"`
	Scan     ScanPlan     `json:"scan"`
	Compare  ComparePlan  `json:"compare"`
	Sign     SignPlan     `json:"sign"`
	Report   ReportPlan   `json:"report"`
	Steps    []Step       `json:"steps"`
	// Partial is one platform's job of a matrix: built, pushed by digest
	// and scanned, its result recorded for slipway merge, which gates,
	// signs and tags the index.
	Partial bool `json:"partial,omitempty"`
	// Merge is slipway merge: the index of the partial runs' images
	// (Build.From), gated on their recorded scans, signed and tagged.
	Merge bool `json:"merge,omitempty"`
	// Promote is slipway promote: a signed digest moved, as it is, to the
	// Publish repositories once its signature and policy verify; nil for
	// the other commands.
	Promote *PromotePlan `json:"promote,omitempty"`
	// Warnings are what the plan will do that a user should know; the
	// run's result starts with them.
	Warnings []string `json:"warnings,omitempty"`
}

// CIPlan is the CI context the plan was computed for.
type CIPlan struct {
	Provider      string `json:"provider"`
	Event         string `json:"event"`
	EventName     string `json:"event-name"`
	Ref           string `json:"ref"`
	SHA           string `json:"sha"`
	Branch        string `json:"branch,omitempty"`
	Tag           string `json:"tag,omitempty"`
	PR            int    `json:"pr,omitempty"`
	BaseRef       string `json:"base-ref,omitempty"`
	DefaultBranch string `json:"default-branch,omitempty"`
	Repository    string `json:"repository,omitempty"`
	RunURL        string `json:"run-url,omitempty"`
	Fork          bool   `json:"fork"`
}

// MetadataPlan is the computed tags, labels and annotations.
type MetadataPlan struct {
	Version     meta.Version      `json:"version"`
	Tags        []string          `json:"tags"`
	Labels      map[string]string `json:"labels"`
	Annotations []string          `json:"annotations"`
}

// BuildPlan is what BuildKit is asked to do: the values themselves. What
// may carry a secret prints and encodes redacted by its type (BuildArg,
// attrs.Secret, attrs.Entry), so the plan that is shown is the plan that
// runs, and nothing shows a value.
type BuildPlan struct {
	Context       string         `json:"context"`
	File          string         `json:"file"`
	Target        string         `json:"target,omitempty"`
	Platforms     []string       `json:"platforms"`
	BuildArgs     []BuildArg     `json:"build-args"`
	BuildContexts []attrs.Entry  `json:"build-contexts,omitempty"`
	Secrets       []attrs.Secret `json:"secrets"` // env values resolved; shown by id and source
	SSH           []string       `json:"ssh,omitempty"`
	CacheFrom     []attrs.Entry  `json:"cache-from"`
	CacheTo       []attrs.Entry  `json:"cache-to"`
	NoCache       bool           `json:"no-cache"`
	Pull          bool           `json:"pull"`
	Provenance    string         `json:"provenance"`
	SBOM          string         `json:"sbom"`
	SBOMGenerator string         `json:"sbom-generator,omitempty"`
	Builder       string         `json:"builder"`
	// Run is how the RUN steps run (add-hosts, network, shm-size, ulimit,
	// cgroup-parent, no-cache-filters, entitlements).
	Run attrs.RunSettings `json:"run,omitzero"`
	// Outputs are the outputs entries exported beside the OCI layout
	// (files of the build for a later step).
	Outputs []attrs.Output `json:"outputs,omitempty"`
	// Load loads the built image into a Docker Engine; nil for none.
	Load *LoadPlan `json:"load,omitempty"`
	// Call is a frontend subrequest evaluated in place of the build
	// (call: check, outline, targets); nil for a build.
	Call *attrs.Call `json:"call,omitempty"`
	// From are, for slipway merge, the partial runs whose images the
	// index assembles, in platforms order; none for a build.
	From []PartialSource `json:"from,omitempty"`
	// Nodes are the BuildKit nodes of a build on several, each with the
	// platforms it solves; none for one builder.
	Nodes     []attrs.BuilderNode `json:"nodes,omitempty"`
	Progress  string              `json:"progress"`
	OutputDir string              `json:"output-dir"`
	// SourceDateEpoch is SOURCE_DATE_EPOCH (Unix seconds) when set: a
	// build argument unless one is given, as buildx does.
	SourceDateEpoch string `json:"-"`
	// Labels and annotations come from the metadata.
	Labels      map[string]string `json:"-"`
	Annotations []meta.Annotation `json:"-"`
}

// LoadPlan is where the built image (one platform) is loaded, under the
// planned tags, so that a later step can docker run it.
type LoadPlan struct {
	// DockerHost is the Engine's address (docker-host).
	DockerHost string `json:"docker-host"`
}

// PartialSource is one line of slipway merge's from: a partial run's
// platform, its image manifest and its record, by digest, in the
// repository merged into.
type PartialSource struct {
	Platform string  `json:"platform"`
	Manifest v1.Hash `json:"manifest"`
	Record   v1.Hash `json:"record"`
}

// BuildArg is one build argument with its value. It prints and encodes
// as NAME=value, NAME=*** when secret, and NAME alone when its value
// comes from the environment (never printed).
type BuildArg struct {
	Name, Value string
	// Secret is set for a name that holds secrets by convention (TOKEN,
	// PASSWORD...) or a value that is also a build secret's.
	Secret bool
	// FromEnv is set for a bare NAME given: the value is the variable's.
	FromEnv bool
}

// String is the argument for display.
func (a BuildArg) String() string {
	switch {
	case a.FromEnv:
		return a.Name
	case a.Secret:
		return a.Name + "=" + Redacted
	default:
		return a.Name + "=" + a.Value
	}
}

// MarshalText encodes the argument as String shows it.
func (a BuildArg) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Values are the build arguments sent to the frontend, SOURCE_DATE_EPOCH
// included.
func (b *BuildPlan) Values() map[string]string {
	m := map[string]string{}
	if b.SourceDateEpoch != "" {
		m["SOURCE_DATE_EPOCH"] = b.SourceDateEpoch
	}
	for _, a := range b.BuildArgs {
		m[a.Name] = a.Value
	}
	return m
}

// PublishPlan says where the image goes.
type PublishPlan struct {
	Push         bool              `json:"push"`
	Repositories []name.Repository `json:"repositories"`     // by-digest pushes, in order
	Registries   []string          `json:"registries"`       // distinct hosts
	Tags         []name.Tag        `json:"-"`                // moved last, in their repositories
	Reason       string            `json:"reason,omitempty"` // why not pushing
}

// MarshalJSON renders the plan with its tags by repository, as they are
// printed: {"ghcr.io/acme/app": ["v1", "latest"]}.
func (p PublishPlan) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Push         bool                `json:"push"`
		Repositories []name.Repository   `json:"repositories"`
		Registries   []string            `json:"registries"`
		Tags         map[string][]string `json:"tags"`
		Reason       string              `json:"reason,omitempty"`
	}{p.Push, NonNil(p.Repositories), NonNil(p.Registries), p.TagNames(), p.Reason})
}

// TagNames renders Tags by repository: repository → tag names.
func (p *PublishPlan) TagNames() map[string][]string {
	m := map[string][]string{}
	for _, t := range p.Tags {
		m[t.Context().Name()] = append(m[t.Context().Name()], t.TagStr())
	}
	return m
}

// TagsIn are the tags planned in repo.
func (p *PublishPlan) TagsIn(repo name.Repository) []name.Tag {
	var out []name.Tag
	for _, t := range p.Tags {
		if t.Context() == repo {
			out = append(out, t)
		}
	}
	return out
}

// Primary is the repository the build pushes to and signing happens in;
// false when nothing is pushed.
func (p *PublishPlan) Primary() (name.Repository, bool) {
	if !p.Push || len(p.Repositories) == 0 {
		return name.Repository{}, false
	}
	return p.Repositories[0], true
}

// Copies are the other repositories the digest is copied to after
// signing.
func (p *PublishPlan) Copies() []name.Repository {
	if !p.Push || len(p.Repositories) < 2 {
		return nil
	}
	return p.Repositories[1:]
}

// ScanPlan is the vulnerability scan and gate.
type ScanPlan struct {
	Enabled       bool                `json:"enabled"`
	Severity      []severity.Severity `json:"severity"` // as given; the gate fails on these
	IgnoreUnfixed bool                `json:"ignore-unfixed"`
	TrivyIgnores  []string            `json:"trivyignores,omitempty"`
	Fail          bool                `json:"fail"`
	CacheDir      string              `json:"cache-dir,omitempty"`
	DBRepository  []string            `json:"db-repository,omitempty"`
	SkipDBUpdate  bool                `json:"skip-db-update"`
	// GateNew fails the gate only on findings the compared base image
	// does not have (gate: new); without a base to compare, the gate
	// judges every finding, as gate: all.
	GateNew bool `json:"gate-new,omitempty"`
	// DefaultBranchImage is the default branch's image (repository:tag),
	// which GitLab's container scanning report names so that GitLab
	// matches a branch's findings with the default branch's; "" for none.
	DefaultBranchImage string `json:"default-branch-image,omitempty"`
}

// ComparePlan is the comparison with the base branch's image.
type ComparePlan struct {
	Enabled bool `json:"enabled"`
	// Base is the image compared with, by tag or digest: the compare-to
	// input, or the tag the rules give the base branch's push in the
	// first repository.
	Base name.Reference `json:"base,omitempty"`
	// Auto says Base is the base branch's tag rather than given.
	Auto   bool   `json:"auto,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// SignPlan is signing and attestation.
type SignPlan struct {
	Enabled   bool         `json:"enabled"`
	Mode      mode.Signing `json:"mode"` // "" when disabled
	Key       string       `json:"key,omitempty"`
	FulcioURL string       `json:"fulcio-url,omitempty"`
	RekorURL  string       `json:"rekor-url,omitempty"`
	// RekorVersion is the log's API version (1 or 2); 0 when nothing is
	// logged.
	RekorVersion uint32 `json:"rekor-version,omitempty"`
	TlogUpload   bool   `json:"tlog-upload"`
	// TimestampURL is the RFC 3161 timestamp authority that timestamps
	// the bundles; "" for none.
	TimestampURL string               `json:"timestamp-server-url,omitempty"`
	Attest       bool                 `json:"attest"`
	Format       mode.SignatureFormat `json:"format,omitempty"` // "" when disabled
	// TrustedRoot is the trusted-root input: the trust root a verifier
	// needs for a private Fulcio or Rekor.
	TrustedRoot string `json:"trusted-root,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// PromotePlan is what slipway promote moves and what it asks of it.
type PromotePlan struct {
	// Source is the image by digest in its repository.
	Source name.Digest `json:"source"`
	// ReportMaxAge is how old a signed vulnerability report may be for
	// the policy to be judged on it; an older one (or none) is replaced
	// by a fresh scan of the source in its registry.
	ReportMaxAge time.Duration `json:"report-max-age"`
	// Identity is whom the signatures must be by, for a person: the key
	// input, or the certificate identity and its issuer.
	Identity string `json:"identity"`
	// Key is the cosign-key input (key mode); CertificateIdentity and
	// CertificateIssuer the keyless identity.
	Key                 string `json:"-"`
	CertificateIdentity string `json:"-"`
	CertificateIssuer   string `json:"-"`
}

// ReportPlan is where results go.
type ReportPlan struct {
	Outputs bool   `json:"outputs"`
	Summary bool   `json:"summary"`
	Comment string `json:"comment"` // "pull request #N", or why not
	// CommentMode is the comment input the notifier follows.
	CommentMode mode.Comment `json:"-"`
	OutputDir   string       `json:"output-dir"`
}

// Step is one stage action in order.
type Step struct {
	Stage  Stage  `json:"stage"`
	Action string `json:"action"`
	// Repository is the one repository a tag step moves tags in.
	Repository name.Repository `json:"repository,omitzero"`
}

// Stage names.
type Stage string

const (
	StageBuild Stage = "build"
	StageScan  Stage = "scan"
	// StageCompare compares with the base image: findings, packages,
	// size.
	StageCompare Stage = "compare"
	StageGate    Stage = "gate"
	StageSign    Stage = "sign"
	StageVerify  Stage = "verify"
	StageCopy    Stage = "copy"
	StageTag     Stage = "tag"
	StageRecord  Stage = "record"
	StageReport  Stage = "report"
	// StageSource reads the image slipway promote moves (manifests only);
	// StageVerifySource verifies its signatures and attestations where it
	// is.
	StageSource       Stage = "source"
	StageVerifySource Stage = "verify-source"
	// StageLoad loads the built image into a Docker Engine (load: true).
	StageLoad Stage = "load"
	// StageCall evaluates call: check, outline or targets, in place of
	// the build.
	StageCall Stage = "call"
)

// NonNil is s, or an empty slice for nil: JSON shows [] rather than null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Steps lists the plan's stage actions in the order Run carries them
// out.
func compareWhat(c ComparePlan) string {
	if c.Auto {
		return "the base branch's image"
	}
	return "compare-to"
}

func Steps(p *Plan) []Step {
	var s []Step
	add := func(st Stage, format string, args ...any) {
		s = append(s, Step{Stage: st, Action: fmt.Sprintf(format, args...)})
	}
	platforms := "the builder's platform"
	if len(p.Build.Platforms) > 0 {
		platforms = strings.Join(p.Build.Platforms, ", ")
	}
	if len(p.Build.Nodes) > 0 {
		var on []string
		for _, n := range p.Build.Nodes {
			on = append(on, strings.Join(n.Platforms, ", ")+" on "+n.Address)
		}
		platforms = strings.Join(on, "; ") + ", all at once, into one index"
	}
	if p.Promote != nil {
		return append(s, promoteSteps(p)...)
	}
	if c := p.Build.Call; c != nil {
		switch c.Name {
		case "lint":
			add(StageCall, "run the Dockerfile checks of %s (call: check), build nothing: each warning with its file and line in the summary; fail only when the Dockerfile sets check=error=true", p.Build.File)
		default:
			add(StageCall, "print the %s of %s (call: %s), as buildx does; build nothing", c.Name, p.Build.File, c.Name)
		}
		add(StageReport, "write outputs and summary; %s", p.Report.Comment)
		return s
	}
	primary, push := p.Publish.Primary()
	switch {
	case p.Merge:
		add(StageBuild, "assemble the index of %s from the partial runs' images in %s (their records read by digest, no layer) and push it by digest (no tag)", platforms, primary)
	case push:
		add(StageBuild, "build %s for %s and push by digest (no tag) to %s", p.Build.File, platforms, primary)
	default:
		add(StageBuild, "build %s for %s into %s (no push: %s)", p.Build.File, platforms, p.Build.OutputDir, p.Publish.Reason)
	}
	if outs := p.Build.Outputs; len(outs) > 0 {
		// In the same solve: the build step says so.
		s[len(s)-1].Action += "; also export " + joined(outs) + " (outputs)"
	}
	if l := p.Build.Load; l != nil {
		add(StageLoad, "load the image into the Docker Engine at %s under its tags, for a later docker run (load)", l.DockerHost)
	}
	if p.Partial {
		if p.Scan.Enabled {
			add(StageScan, "scan %s from the local OCI layout with Trivy (the merge applies the gate)", platforms)
		}
		add(StageRecord, "record %s's manifest and scan as a referrer of it, for slipway merge (no tag, no signature: the merge's)", platforms)
		add(StageReport, "write outputs (partial-result) and summary; %s", p.Report.Comment)
		return s
	}
	if p.Scan.Enabled {
		if p.Merge {
			add(StageScan, "read every platform's scan from its partial run's record (no pull, no re-scan)")
		} else {
			add(StageScan, "scan every platform from the local OCI layout with Trivy")
		}
		if c := p.Compare; c.Enabled {
			add(StageCompare, "compare with %s (%s): new and fixed vulnerabilities, packages, size; its facts from its signed attestations, else a remote scan", c.Base, compareWhat(c))
		}
		switch {
		case p.Scan.Fail && p.Scan.GateNew:
			add(StageGate, "fail before any tag moves on a %s vulnerability the base image does not have (gate: new; all of them without a base)", strings.Join(severity.Strings(p.Scan.Severity), " or "))
		case p.Scan.Fail:
			add(StageGate, "fail before any tag moves on a %s vulnerability", strings.Join(severity.Strings(p.Scan.Severity), " or "))
		default:
			add(StageGate, "report %s vulnerabilities without failing (scan-fail is false)", strings.Join(severity.Strings(p.Scan.Severity), ", "))
		}
	}
	if p.Sign.Enabled {
		what := "sign the digest"
		if p.Sign.Attest {
			what += " and attest the SBOM and vulnerability report"
		}
		add(StageSign, "%s (%s) in %s", what, p.Sign.Mode, primary)
		add(StageVerify, "verify the signature before any tag moves")
	}
	if copies := p.Publish.Copies(); len(copies) > 0 {
		if p.Sign.Enabled {
			add(StageCopy, "copy the digest with its signatures to %s (missing blobs only), then verify them there", joined(copies))
		} else {
			add(StageCopy, "copy the digest to %s (missing blobs only)", joined(copies))
		}
	}
	if p.Publish.Push {
		s = append(s, tagSteps(p)...)
	}
	add(StageReport, "write outputs and summary; %s", p.Report.Comment)
	return s
}

// promoteSteps are slipway promote's: read and verify the source, judge
// its policy, copy it with everything about it, verify it there, tag.
func promoteSteps(p *Plan) []Step {
	var s []Step
	add := func(st Stage, format string, args ...any) {
		s = append(s, Step{Stage: st, Action: fmt.Sprintf(format, args...)})
	}
	pr := p.Promote
	add(StageSource, "read %s: the index and its platforms (manifests only)", pr.Source)
	add(StageVerifySource, "verify its signatures and attestations (%s) with %s", p.Sign.Format, pr.Identity)
	if p.Scan.Enabled {
		add(StageScan, "judge its signed vulnerability report when it is at most %s old, else scan it in its registry with Trivy", pr.ReportMaxAge)
		if p.Scan.Fail {
			add(StageGate, "refuse it, before anything is copied, on a %s vulnerability", strings.Join(severity.Strings(p.Scan.Severity), " or "))
		} else {
			add(StageGate, "report %s vulnerabilities without refusing (scan-fail is false)", strings.Join(severity.Strings(p.Scan.Severity), ", "))
		}
	}
	add(StageCopy, "copy it with its signatures, attestations and referrers to %s (missing blobs only, mounted inside a registry), then verify them there", joined(p.Publish.Repositories))
	s = append(s, tagSteps(p)...)
	add(StageReport, "write outputs and summary; %s", p.Report.Comment)
	return s
}

// tagSteps move the planned tags, one step per repository that has some.
func tagSteps(p *Plan) []Step {
	var s []Step
	names := p.Publish.TagNames()
	for _, repo := range p.Publish.Repositories {
		if tags := names[repo.Name()]; len(tags) > 0 {
			s = append(s, Step{Stage: StageTag, Action: fmt.Sprintf("tag %s: %s", repo, strings.Join(tags, ", ")), Repository: repo})
		}
	}
	return s
}

// joined renders references for a person: "a, b".
func joined[T fmt.Stringer](refs []T) string { return strings.Join(shown(refs), ", ") }
