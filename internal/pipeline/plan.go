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
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/meta"
)

// Redacted replaces every secret value in the plan.
const Redacted = "***"

// Plan is everything a run will do.
type Plan struct {
	CI       CIPlan       `json:"ci"`
	Metadata MetadataPlan `json:"metadata"`
	Build    BuildPlan    `json:"build"`
	Publish  PublishPlan  `json:"publish"`
	Scan     ScanPlan     `json:"scan"`
	Sign     SignPlan     `json:"sign"`
	Report   ReportPlan   `json:"report"`
	Steps    []Step       `json:"steps"`
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

// BuildPlan is what BuildKit is asked to do.
type BuildPlan struct {
	Context       string   `json:"context"`
	File          string   `json:"file"`
	Target        string   `json:"target,omitempty"`
	Platforms     []string `json:"platforms"`
	BuildArgs     []string `json:"build-args"` // secret values redacted
	BuildContexts []string `json:"build-contexts,omitempty"`
	Secrets       []string `json:"secrets"` // ids and sources, never values
	SSH           []string `json:"ssh,omitempty"`
	CacheFrom     []string `json:"cache-from"`
	CacheTo       []string `json:"cache-to"`
	NoCache       bool     `json:"no-cache"`
	Pull          bool     `json:"pull"`
	Provenance    string   `json:"provenance"`
	SBOM          string   `json:"sbom"`
	SBOMGenerator string   `json:"sbom-generator,omitempty"`
	Builder       string   `json:"builder"`
	Progress      string   `json:"progress"`
	OutputDir     string   `json:"output-dir"`
	// Labels and annotations come from the metadata.
	Labels      map[string]string `json:"-"`
	Annotations []meta.Annotation `json:"-"`
	// secrets, buildArgs and the raw entries hold the values, kept out of
	// the printed plan (cache entries and contexts may carry credentials).
	secrets                           []config.Secret
	buildArgs                         map[string]string
	cacheFrom, cacheTo, buildContexts []string
}

// CacheEntries returns the cache-from and cache-to entries as given.
func (b *BuildPlan) CacheEntries() (from, to []string) { return b.cacheFrom, b.cacheTo }

// BuildContextEntries returns the build-contexts entries as given.
func (b *BuildPlan) BuildContextEntries() []string { return b.buildContexts }

// SecretSources returns the build secrets to mount, values resolved.
func (b *BuildPlan) SecretSources() []config.Secret { return b.secrets }

// BuildArgValues returns the build arguments with their values.
func (b *BuildPlan) BuildArgValues() map[string]string { return b.buildArgs }

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
	}{p.Push, nonNil(p.Repositories), nonNil(p.Registries), p.TagNames(), p.Reason})
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
	Enabled       bool     `json:"enabled"`
	Severity      []string `json:"severity"`
	IgnoreUnfixed bool     `json:"ignore-unfixed"`
	TrivyIgnores  []string `json:"trivyignores,omitempty"`
	Fail          bool     `json:"fail"`
	CacheDir      string   `json:"cache-dir,omitempty"`
	DBRepository  []string `json:"db-repository,omitempty"`
	SkipDBUpdate  bool     `json:"skip-db-update"`
}

// SignPlan is signing and attestation.
type SignPlan struct {
	Enabled    bool   `json:"enabled"`
	Mode       string `json:"mode"` // "key", "keyless" or "" when disabled
	Key        string `json:"key,omitempty"`
	FulcioURL  string `json:"fulcio-url,omitempty"`
	RekorURL   string `json:"rekor-url,omitempty"`
	TlogUpload bool   `json:"tlog-upload"`
	Attest     bool   `json:"attest"`
	Reason     string `json:"reason,omitempty"`
}

// ReportPlan is where results go.
type ReportPlan struct {
	Outputs   bool   `json:"outputs"`
	Summary   bool   `json:"summary"`
	Comment   string `json:"comment"` // "pull request #N", or why not
	OutputDir string `json:"output-dir"`
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
	StageBuild  Stage = "build"
	StageScan   Stage = "scan"
	StageGate   Stage = "gate"
	StageSign   Stage = "sign"
	StageVerify Stage = "verify"
	StageCopy   Stage = "copy"
	StageTag    Stage = "tag"
	StageReport Stage = "report"
)

// Inputs are what a plan is computed from.
type Inputs struct {
	Config *config.Loaded
	CI     *ci.Context
	Meta   *meta.Result
}

// NewPlan computes the plan. It contacts nothing. Errors are input errors.
func NewPlan(in Inputs) (*Plan, error) {
	cfg, c, md := &in.Config.Config, in.CI, in.Meta
	p := &Plan{
		CI: CIPlan{
			Provider: c.Provider, Event: string(c.Event), EventName: c.EventName, Ref: c.Ref, SHA: c.SHA,
			Branch: c.Branch, Tag: c.Tag, PR: c.PRNumber, BaseRef: c.BaseRef,
			DefaultBranch: c.Repository.DefaultBranch, Repository: c.Repository.Name, RunURL: c.RunURL, Fork: c.Fork,
		},
		Metadata: MetadataPlan{Version: md.Version, Tags: nonNil(md.Tags), Labels: labelMap(md), Annotations: md.AnnotationStrings()},
	}
	if err := p.planBuild(in.Config, md); err != nil {
		return nil, err
	}
	if err := p.planPublish(cfg, c, md); err != nil {
		return nil, err
	}
	p.planScan(cfg)
	if err := p.planSign(cfg, in.Config.OIDC); err != nil {
		return nil, err
	}
	p.planReport(cfg, c)
	p.Steps = p.steps()
	return p, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func labelMap(md *meta.Result) map[string]string {
	m := map[string]string{}
	for _, kv := range md.Labels {
		m[kv.Key] = kv.Value
	}
	return m
}

// secretArgName matches build-arg names that hold secrets by convention.
var secretArgName = regexp.MustCompile(`(?i)(token|secret|passw(or)?d|credential|api_?key|private_?key|(^|_)auth($|_))`)

func (p *Plan) planBuild(l *config.Loaded, md *meta.Result) error {
	cfg := &l.Config
	secrets, err := l.ResolvedSecrets()
	if err != nil {
		return err
	}
	b := BuildPlan{
		Context: cfg.Context, File: cfg.File, Target: cfg.Target, Platforms: nonNil(cfg.Platforms),
		BuildContexts: redacted(cfg.BuildContexts), SSH: cfg.SSH,
		CacheFrom: nonNil(redacted(cfg.CacheFrom)), CacheTo: nonNil(redacted(cfg.CacheTo)), NoCache: cfg.NoCache, Pull: cfg.Pull,
		cacheFrom: cfg.CacheFrom, cacheTo: cfg.CacheTo, buildContexts: cfg.BuildContexts,
		Provenance: cfg.Provenance, SBOM: cfg.SBOM, SBOMGenerator: cfg.SBOMGenerator,
		Builder: builderName(cfg), Progress: cfg.Progress, OutputDir: cfg.OutputDir,
		Labels: labelMap(md), Annotations: md.Annotations, secrets: secrets, buildArgs: l.ResolvedBuildArgs(),
	}
	inline := map[string]bool{}
	for _, s := range secrets {
		if s.Value != "" {
			inline[s.Value] = true
		}
		switch {
		case s.Src != "":
			b.Secrets = append(b.Secrets, fmt.Sprintf("id=%s,src=%s", s.ID, s.Src))
		case s.Env != "":
			b.Secrets = append(b.Secrets, fmt.Sprintf("id=%s,env=%s", s.ID, s.Env))
		default:
			b.Secrets = append(b.Secrets, fmt.Sprintf("id=%s,value=%s", s.ID, Redacted))
		}
	}
	b.Secrets = nonNil(b.Secrets)
	for _, a := range cfg.BuildArgs {
		k, v, ok := strings.Cut(a, "=")
		if ok && v != "" && (secretArgName.MatchString(k) || inline[v]) {
			a = k + "=" + Redacted
		}
		b.BuildArgs = append(b.BuildArgs, a)
	}
	b.BuildArgs = nonNil(b.BuildArgs)
	p.Build = b
	return nil
}

// redacted hides credentials in key=value entries and URLs.
func redacted(entries []string) []string {
	var out []string
	for _, e := range entries {
		out = append(out, config.RedactAttrs(e))
	}
	return out
}

func builderName(cfg *config.Config) string {
	if cfg.Builder != "" {
		return cfg.Builder
	}
	return "auto (BUILDKIT_HOST, then the Docker Engine, then an embedded buildkitd)"
}

func (p *Plan) planPublish(cfg *config.Config, c *ci.Context, md *meta.Result) error {
	pub := PublishPlan{}
	switch cfg.Push {
	case "true":
		pub.Push = true
	case "false":
		pub.Reason = "push is false"
	default: // auto
		pub.Push = c.Event != ci.EventPullRequest
		if !pub.Push {
			pub.Reason = "push is auto and this is a pull request"
		}
	}
	hosts := map[string]bool{}
	for _, img := range md.Images {
		repo, err := name.NewRepository(img)
		if err != nil {
			return errs.Input("images", "%q is not an image repository (expected e.g. ghcr.io/owner/app): %v", img, err)
		}
		pub.Repositories = append(pub.Repositories, repo)
		hosts[repo.RegistryStr()] = true
	}
	// Without images, metadata-action's tags are bare tag names: nothing
	// to push them to.
	for _, ref := range md.Tags {
		if len(md.Images) == 0 {
			break
		}
		t, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return errs.Input("tags", "%q is not a valid image reference: %v", ref, err)
		}
		pub.Tags = append(pub.Tags, t)
	}
	for h := range hosts {
		pub.Registries = append(pub.Registries, h)
	}
	sort.Strings(pub.Registries)
	pub.Repositories = nonNil(pub.Repositories)
	pub.Registries = nonNil(pub.Registries)
	if pub.Push && len(pub.Repositories) == 0 {
		return errs.Input("images", "no image to push to (expected at least one image repository, e.g. images: ghcr.io/owner/app, or push: false)")
	}
	p.Publish = pub
	return nil
}

func (p *Plan) planScan(cfg *config.Config) {
	p.Scan = ScanPlan{
		Enabled: cfg.Scan, Severity: nonNil(cfg.Severity), IgnoreUnfixed: cfg.IgnoreUnfixed, TrivyIgnores: cfg.TrivyIgnores,
		Fail: cfg.ScanFail, CacheDir: cfg.ScanCacheDir, DBRepository: cfg.ScanDBRepository, SkipDBUpdate: cfg.ScanSkipDBUpdate,
	}
}

func (p *Plan) planSign(cfg *config.Config, oidc bool) error {
	s := SignPlan{FulcioURL: cfg.FulcioURL, RekorURL: cfg.RekorURL, TlogUpload: cfg.TlogUpload, Attest: cfg.Attest}
	switch {
	case cfg.Sign == "false":
		s.Reason = "sign is false"
	case !p.Publish.Push:
		s.Reason = "nothing is pushed, so there is no digest in a registry to sign"
	case cfg.CosignKey != "":
		s.Enabled, s.Mode, s.Key = true, "key", cfg.CosignKey
		s.FulcioURL = ""
	case oidc:
		s.Enabled, s.Mode = true, "keyless"
		if !cfg.TlogUpload {
			p.Warnings = append(p.Warnings, "keyless signing with tlog-upload false: nothing timestamps the signature, so it verifies only while its certificate is valid (about 10 minutes); use the transparency log, or a key")
		}
	case cfg.Sign == "true":
		return errs.Input("sign", "sign is true but there is neither a cosign-key nor an OIDC token (expected cosign-key, SIGSTORE_ID_TOKEN, or GitHub Actions' permissions: id-token: write)")
	default:
		s.Reason = "sign is auto and neither cosign-key nor an OIDC token is available"
	}
	if !s.Enabled {
		s.FulcioURL, s.RekorURL, s.Attest = "", "", false
	}
	if !s.TlogUpload {
		s.RekorURL = "" // nothing is written to, nor read from, the log
	}
	p.Sign = s
	return nil
}

func (p *Plan) planReport(cfg *config.Config, c *ci.Context) {
	r := ReportPlan{Outputs: true, Summary: true, OutputDir: cfg.OutputDir}
	change := fmt.Sprintf("pull request #%d", c.PRNumber)
	if c.Forge.Kind == ci.ForgeGitLab {
		change = fmt.Sprintf("merge request !%d", c.PRNumber)
	}
	switch {
	case cfg.Comment == "never":
		r.Comment = "off (comment is never)"
	case c.PRNumber == 0 && c.Event == ci.EventBranchPush && c.Branch != "" && c.Forge.Kind != "":
		r.Comment = fmt.Sprintf("update the sticky comment of an open change request from %s, if one has it (none is created)", c.Branch)
	case c.PRNumber == 0:
		r.Comment = "off (not a pull request)"
	case c.Fork && cfg.Comment == "auto":
		r.Comment = "off (a pull request from a fork gets a read-only token; the summary says so)"
	default:
		r.Comment = "sticky comment on " + change
	}
	p.Report = r
}

// steps lists the stage actions in the order Run carries them out.
func (p *Plan) steps() []Step {
	var s []Step
	add := func(st Stage, format string, args ...any) {
		s = append(s, Step{Stage: st, Action: fmt.Sprintf(format, args...)})
	}
	platforms := "the builder's platform"
	if len(p.Build.Platforms) > 0 {
		platforms = strings.Join(p.Build.Platforms, ", ")
	}
	primary, push := p.Publish.Primary()
	if push {
		add(StageBuild, "build %s for %s and push by digest (no tag) to %s", p.Build.File, platforms, primary)
	} else {
		add(StageBuild, "build %s for %s into %s (no push: %s)", p.Build.File, platforms, p.Build.OutputDir, p.Publish.Reason)
	}
	if p.Scan.Enabled {
		add(StageScan, "scan every platform from the local OCI layout with Trivy")
		if p.Scan.Fail {
			add(StageGate, "fail before any tag moves on a %s vulnerability", strings.Join(p.Scan.Severity, " or "))
		} else {
			add(StageGate, "report %s vulnerabilities without failing (scan-fail is false)", strings.Join(p.Scan.Severity, ", "))
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
		names := p.Publish.TagNames()
		for _, repo := range p.Publish.Repositories {
			if tags := names[repo.Name()]; len(tags) > 0 {
				add(StageTag, "tag %s: %s", repo, strings.Join(tags, ", "))
				s[len(s)-1].Repository = repo
			}
		}
	}
	add(StageReport, "write outputs and summary; %s", p.Report.Comment)
	return s
}

// joined renders references for a person: "a, b".
func joined[T fmt.Stringer](refs []T) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
