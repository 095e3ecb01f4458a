package prepare

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
)

// Inputs are what a plan is computed from.
type Inputs struct {
	Config *config.Loaded
	CI     *ci.Context
	Meta   *meta.Result
	// Merge plans slipway merge: the index of the partial runs' images.
	Merge bool
	// Promote plans slipway promote: the source input moved to images.
	Promote bool
	// BaseTag is the base branch's image of a pull request (branchTag),
	// nil for none.
	BaseTag *name.Tag
	// DefaultBranchTag is the default branch's image, on GitLab (whose
	// container scanning report names it), nil for none.
	DefaultBranchTag *name.Tag
}

// Plan translates the inputs into the plan. It contacts nothing. Errors
// are input errors.
func Plan(in Inputs) (*pipeline.Plan, error) {
	cfg, c, md := &in.Config.Config, in.CI, in.Meta
	p := &pipeline.Plan{
		CI: pipeline.CIPlan{
			Provider: c.Provider, Event: string(c.Event), EventName: c.EventName, Ref: c.Ref, SHA: c.SHA,
			Branch: c.Branch, Tag: c.Tag, PR: c.PRNumber, BaseRef: c.BaseRef,
			DefaultBranch: c.Repository.DefaultBranch, Repository: c.Repository.Name, RunURL: c.RunURL, Fork: c.Fork,
		},
		Metadata: pipeline.MetadataPlan{Version: md.Version, Tags: pipeline.NonNil(md.Tags), Labels: labelMap(md), Annotations: md.AnnotationStrings()},
	}
	var err error
	if p.Build, err = planBuild(in.Config, md); err != nil {
		return nil, err
	}
	if p.Publish, err = planPublish(cfg, c, md); err != nil {
		return nil, err
	}
	if p.Scan, err = planScan(cfg); err != nil {
		return nil, err
	}
	if p.Sign, err = planSign(cfg, in.Config.OIDC, p.Publish.Push); err != nil {
		return nil, err
	}
	if err := onlyForBuild(p, in); err != nil {
		return nil, err
	}
	if cfg.Partial {
		if in.Merge {
			return nil, errs.Input("partial", "slipway merge assembles the partial runs' index; partial is for the runs themselves (expected partial: false)")
		}
		if err := planPartial(p); err != nil {
			return nil, err
		}
	}
	if in.Merge {
		if err := planMerge(in.Config, p); err != nil {
			return nil, err
		}
	}
	if in.Promote {
		if cfg.Partial {
			return nil, errs.Input("partial", "slipway promote moves a whole published image; partial is for a matrix's runs (expected partial: false)")
		}
		if err := planPromote(in.Config, p); err != nil {
			return nil, err
		}
	}
	if s := p.Sign; s.Enabled && s.Format.Bundle() {
		if s.Mode == mode.Keyless && s.TlogUpload && s.RekorVersion == 2 && s.TimestampURL == "" {
			return nil, errs.Input("timestamp-server-url", "keyless signing with a Rekor v2 log needs a timestamp authority: Rekor v2 entries carry no time, and the certificate is valid for minutes (expected timestamp-server-url, e.g. https://timestamp.sigstore.dev/api/v1/timestamp, or rekor-version: 1)")
		}
	}
	if p.Sign.Mode == mode.Keyless && !p.Sign.TlogUpload {
		p.Warnings = append(p.Warnings, "keyless signing with tlog-upload false: nothing timestamps the signature, so it verifies only while its certificate is valid (about 10 minutes); use the transparency log, or a key")
	}
	if t := in.DefaultBranchTag; t != nil && p.Scan.Enabled {
		p.Scan.DefaultBranchImage = t.String()
	}
	if p.Compare, err = planCompare(cfg, p, in.BaseTag); err != nil {
		return nil, err
	}
	if p.Scan.GateNew && !p.Compare.Enabled && p.Scan.Enabled {
		p.Warnings = append(p.Warnings, fmt.Sprintf("gate is new, but there is no image to compare with (%s): the gate judges every finding, as gate: all", p.Compare.Reason))
	}
	p.Report = planReport(cfg, c)
	if call := p.Build.Call; call != nil && call.Name != "lint" {
		// It prints on stdout: nothing for a comment to say.
		p.Report.CommentMode, p.Report.Comment = mode.CommentNever, fmt.Sprintf("off (call: %s prints, builds nothing)", call.Shown())
	}
	p.Steps = pipeline.Steps(p)
	return p, nil
}

// onlyForBuild refuses call, outputs and load where nothing is built
// (slipway merge and promote) and call where a partial run's job is to
// build.
func onlyForBuild(p *pipeline.Plan, in Inputs) error {
	b := &p.Build
	what := ""
	switch {
	case in.Merge:
		what = "slipway merge assembles the partial runs' images, it builds nothing"
	case in.Promote:
		what = "slipway promote moves a published image, it builds nothing"
	case in.Config.Partial && b.Call != nil:
		return errs.Input("call", "a partial run builds its platform for slipway merge (expected call: build, or a job of its own for call: %s)", b.Call.Shown())
	default:
		return nil
	}
	switch {
	case b.Call != nil:
		return errs.Input("call", "%s (expected no call)", what)
	case len(b.Outputs) > 0:
		return errs.Input("outputs", "%s (expected no outputs)", what)
	case b.Load != nil:
		return errs.Input("load", "%s (expected load: false)", what)
	}
	return nil
}

// planPartial makes p one platform's job of a matrix: its one platform
// built, pushed by digest and scanned, no signature (slipway merge signs
// the index, and would find none of the platform's to keep).
func planPartial(p *pipeline.Plan) error {
	if n := len(p.Build.Platforms); n != 1 {
		return errs.Input("partial", "a partial run builds one platform, got %d (expected platforms with one, e.g. linux/arm64: one job per platform, then slipway merge)", n)
	}
	if !p.Publish.Push {
		return errs.Input("partial", "a partial run pushes its platform by digest for slipway merge, but nothing is pushed (%s)", p.Publish.Reason)
	}
	if len(p.Build.Nodes) > 0 {
		return errs.Input("partial", "a partial run builds one platform on one builder, but builder lists %d nodes", len(p.Build.Nodes))
	}
	p.Partial = true
	p.Sign = pipeline.SignPlan{Reason: "partial: slipway merge signs and attests the index"}
	return nil
}

// planMerge makes p slipway merge's: the index of the partial runs that
// from (or their SLIPWAY_RESULT_PARTIAL_* variables) names, assembled in
// the first repository, where they pushed; gated on their recorded
// scans, then signed and tagged as a run's.
func planMerge(l *config.Loaded, p *pipeline.Plan) error {
	lines := l.From
	if len(lines) == 0 {
		lines = l.PartialResults()
	}
	if len(lines) == 0 {
		return errs.Input("from", "slipway merge needs the partial runs' results (expected from: their partial-result outputs, one per line, or SLIPWAY_RESULT_PARTIAL_* variables from their slipway.env)")
	}
	var srcs []pipeline.PartialSource
	var platforms []string
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 {
			return errs.Input("from", "%q is not a partial-result line (expected <platform> <manifest digest> <record digest>)", line)
		}
		if _, err := v1.ParsePlatform(f[0]); err != nil {
			return errs.Input("from", "%q: platform %q: %v", line, f[0], err)
		}
		m, err1 := v1.NewHash(f[1])
		r, err2 := v1.NewHash(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return errs.Input("from", "%q: %v (expected sha256:<hex> digests)", line, err)
		}
		if slices.Contains(platforms, f[0]) {
			return errs.Input("from", "%s is given twice", f[0])
		}
		srcs = append(srcs, pipeline.PartialSource{Platform: f[0], Manifest: m, Record: r})
		platforms = append(platforms, f[0])
	}
	if len(l.Platforms) > 0 && !slices.Equal(slices.Sorted(slices.Values(l.Platforms)), slices.Sorted(slices.Values(platforms))) {
		return errs.Input("from", "the partial runs built %s, but platforms is %s", strings.Join(platforms, ", "), strings.Join(l.Platforms, ", "))
	}
	if !p.Publish.Push {
		return errs.Input("from", "slipway merge pushes the index where the partial runs pushed, but nothing is pushed (%s)", p.Publish.Reason)
	}
	if n := len(p.Publish.Repositories); n > 1 {
		return errs.Input("images", "slipway merge assembles the index in the first repository, where the partial runs pushed; got %d (expected one image; copy the result to others with a later run)", n)
	}
	if len(p.Build.Nodes) > 0 {
		return errs.Input("builder", "slipway merge builds nothing, but builder lists %d nodes", len(p.Build.Nodes))
	}
	p.Merge = true
	p.Build.From, p.Build.Platforms = srcs, platforms
	return nil
}

// planPromote makes p slipway promote's: the source, by digest, verified
// by the identity given (a key, or a keyless certificate identity) and
// judged by the scan's policy, copied to every repository of images, and
// tagged with the tags input's tags only.
func planPromote(l *config.Loaded, p *pipeline.Plan) error {
	cfg := &l.Config
	if cfg.Source == "" {
		return errs.Input("source", "slipway promote needs the image to promote (expected repository@sha256:<hex>, the command's argument)")
	}
	src, err := name.NewDigest(cfg.Source)
	if err != nil {
		return errs.Input("source", "%q is not an image by digest (expected repository@sha256:<hex>: a tag can move between the check and the copy, a digest cannot)", cfg.Source)
	}
	if !p.Publish.Push || len(p.Publish.Repositories) == 0 {
		return errs.Input("images", "slipway promote needs where to promote to (expected --to or images), but nothing is pushed (%s)", p.Publish.Reason)
	}
	if slices.Contains(p.Publish.Repositories, src.Context()) {
		return errs.Input("images", "%s is where the source already is (expected other repositories; a tag in place is a run's)", src.Context())
	}
	if len(cfg.Tags) == 0 {
		// The default tag rules are a build's (branch, pull request):
		// a promotion moves only the tags it is given.
		p.Publish.Tags, p.Metadata.Tags = nil, []string{}
	}
	maxAge, err := cfg.MaxReportAge()
	if err != nil {
		return err
	}
	pr := &pipeline.PromotePlan{Source: src, ReportMaxAge: maxAge, Key: cfg.CosignKey, CertificateIdentity: cfg.CertificateIdentity, CertificateIssuer: cfg.CertificateOIDCIssuer}
	s := pipeline.SignPlan{Enabled: true, TlogUpload: cfg.TlogUpload, Format: cfg.SignatureFormat, TrustedRoot: cfg.TrustedRoot}
	switch {
	case cfg.Sign == mode.Off:
		return errs.Input("sign", "slipway promote moves only a digest whose signature verifies (expected sign: auto or true, and cosign-key or certificate-identity)")
	case cfg.CosignKey != "" && cfg.CertificateIdentity != "":
		return errs.Input("certificate-identity", "the source's signer is either a key or a keyless identity, but both cosign-key and certificate-identity are given")
	case cfg.CosignKey != "":
		s.Mode, s.Key = mode.Key, cfg.CosignKey
		pr.Identity = "key " + cfg.CosignKey
	case cfg.CertificateIdentity != "" && cfg.CertificateOIDCIssuer == "":
		return errs.Input("certificate-oidc-issuer", "certificate-identity %q needs its OIDC issuer (expected e.g. https://token.actions.githubusercontent.com)", cfg.CertificateIdentity)
	case cfg.CertificateIdentity != "":
		s.Mode = mode.Keyless
		pr.Identity = fmt.Sprintf("%s (issuer %s)", cfg.CertificateIdentity, cfg.CertificateOIDCIssuer)
	default:
		return errs.Input("cosign-key", "slipway promote verifies the source's signature first (expected cosign-key: a public key, or a private key whose public half is used; or certificate-identity with certificate-oidc-issuer)")
	}
	if s.TlogUpload {
		s.RekorURL = cfg.RekorURL
		if v, err := strconv.ParseUint(cfg.RekorVersion, 10, 32); err == nil {
			s.RekorVersion = uint32(v)
		}
	}
	p.Sign = s
	if !p.Scan.Enabled {
		p.Warnings = append(p.Warnings, "scan is false: the source's vulnerabilities are not judged before it is promoted")
	}
	p.Build.Platforms = []string{}
	p.Promote = pr
	return nil
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

func planBuild(l *config.Loaded, md *meta.Result) (pipeline.BuildPlan, error) {
	cfg := &l.Config
	secrets, err := l.ResolvedSecrets()
	if err != nil {
		return pipeline.BuildPlan{}, err
	}
	run, err := cfg.RunSettings()
	if err != nil {
		return pipeline.BuildPlan{}, err
	}
	provenance, sbom, err := cfg.Attestations()
	if err != nil {
		return pipeline.BuildPlan{}, err
	}
	outputs, load, err := cfg.BuildOutputs()
	if err != nil {
		return pipeline.BuildPlan{}, err
	}
	call, err := cfg.CallRequest()
	if err != nil {
		return pipeline.BuildPlan{}, err
	}
	b := pipeline.BuildPlan{
		Run: run, Outputs: outputs, Call: call,
		Context: cfg.Context, File: cfg.File, Target: cfg.Target, Platforms: pipeline.NonNil(cfg.Platforms),
		BuildContexts: attrs.Entries(cfg.BuildContexts), Secrets: pipeline.NonNil(secrets), SSH: cfg.SSH,
		CacheFrom: pipeline.NonNil(attrs.Entries(cfg.CacheFrom)), CacheTo: pipeline.NonNil(attrs.Entries(cfg.CacheTo)), NoCache: cfg.NoCache, Pull: cfg.Pull,
		Provenance: provenance, SBOM: sbom, SBOMGenerator: cfg.SBOMGenerator,
		Builder: builderName(cfg), Progress: cfg.Progress, OutputDir: cfg.OutputDir,
		Labels: labelMap(md), Annotations: md.Annotations,
	}
	if load {
		b.Load = &pipeline.LoadPlan{DockerHost: cfg.DockerHost}
	}
	if err := planNodes(cfg, &b); err != nil {
		return pipeline.BuildPlan{}, err
	}
	if len(b.Nodes) > 0 && len(b.Outputs) > 0 {
		return pipeline.BuildPlan{}, errs.Input("outputs", "a build on %d nodes exports its image into the OCI layout only (expected one builder for outputs entries, or a later step reading the layout or the pushed image)", len(b.Nodes))
	}
	if !l.Now.IsZero() {
		b.SourceDateEpoch = strconv.FormatInt(l.Now.Unix(), 10)
	}
	inline := map[string]bool{}
	for _, s := range secrets {
		if s.Value != "" {
			inline[s.Value] = true
		}
	}
	values := l.ResolvedBuildArgs()
	for _, a := range cfg.BuildArgs {
		k, _, given := strings.Cut(a, "=")
		v, ok := values[k]
		if !ok {
			continue // a bare NAME whose variable is not set
		}
		b.BuildArgs = append(b.BuildArgs, pipeline.BuildArg{
			Name: k, Value: v, FromEnv: !given,
			Secret: v != "" && (secretArgName.MatchString(k) || inline[v]),
		})
	}
	b.BuildArgs = pipeline.NonNil(b.BuildArgs)
	return b, nil
}

// planNodes gives each node of a builder of several the platforms it
// builds (the builder-tls-* inputs are the mTLS of a node that names
// none), and the plan every node's platforms when none are given.
func planNodes(cfg *config.Config, b *pipeline.BuildPlan) error {
	nodes, err := attrs.ParseBuilder(cfg.Builder)
	if err == nil && len(nodes) > 0 {
		nodes, err = attrs.AssignPlatforms(nodes, cfg.Platforms)
	}
	if err != nil {
		return errs.Input("builder", "%s", err.Error())
	}
	if len(nodes) == 0 {
		return nil
	}
	global := attrs.NodeTLS{CA: cfg.BuilderTLSCA, Cert: cfg.BuilderTLSCert, Key: cfg.BuilderTLSKey, ServerName: cfg.BuilderTLSName}
	var platforms []string
	for i := range nodes {
		if nodes[i].TLS == (attrs.NodeTLS{}) {
			nodes[i].TLS = global
		}
		platforms = append(platforms, nodes[i].Platforms...)
	}
	if len(b.Platforms) == 0 {
		b.Platforms = platforms
	}
	b.Nodes = nodes
	b.Builder = fmt.Sprintf("%d BuildKit nodes", len(nodes))
	return nil
}

func builderName(cfg *config.Config) string {
	if cfg.Builder != "" {
		return cfg.Builder
	}
	return "auto (BUILDKIT_HOST, then the Docker Engine, then an embedded buildkitd)"
}

// tagName is the OCI distribution spec's grammar of a tag.
var tagName = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// planPublish types the metadata's images and tag names: each image is a
// repository, each tag is repository.Tag(name); no reference is built
// from strings and parsed back.
func planPublish(cfg *config.Config, c *ci.Context, md *meta.Result) (pipeline.PublishPlan, error) {
	pub := pipeline.PublishPlan{}
	switch cfg.Push {
	case mode.On:
		pub.Push = true
	case mode.Off:
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
			return pub, errs.Input("images", "%q is not an image repository (expected e.g. ghcr.io/owner/app): %v", img, err)
		}
		pub.Repositories = append(pub.Repositories, repo)
		hosts[repo.RegistryStr()] = true
	}
	for _, t := range md.TagNames {
		if !tagName.MatchString(t) {
			return pub, errs.Input("tags", "%q is not a valid tag (expected up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -)", t)
		}
	}
	// Without images, metadata-action's tags are bare tag names: nothing
	// to push them to.
	for _, repo := range pub.Repositories {
		for _, t := range md.TagNames {
			pub.Tags = append(pub.Tags, repo.Tag(t))
		}
	}
	for h := range hosts {
		pub.Registries = append(pub.Registries, h)
	}
	sort.Strings(pub.Registries)
	pub.Repositories = pipeline.NonNil(pub.Repositories)
	pub.Registries = pipeline.NonNil(pub.Registries)
	if pub.Push && len(pub.Repositories) == 0 {
		return pub, errs.Input("images", "no image to push to (expected at least one image repository, e.g. images: ghcr.io/owner/app, or push: false)")
	}
	return pub, nil
}

func planScan(cfg *config.Config) (pipeline.ScanPlan, error) {
	sevs, err := severity.ParseList(cfg.Severity)
	if err != nil {
		return pipeline.ScanPlan{}, errs.Input("severity", "%s", err.Error())
	}
	return pipeline.ScanPlan{
		Enabled: cfg.Scan, Severity: pipeline.NonNil(sevs), IgnoreUnfixed: cfg.IgnoreUnfixed, TrivyIgnores: cfg.TrivyIgnores,
		Fail: cfg.ScanFail, CacheDir: cfg.ScanCacheDir, DBRepository: cfg.ScanDBRepository, SkipDBUpdate: cfg.ScanSkipDBUpdate,
		GateNew: cfg.Gate == "new",
	}, nil
}

// planCompare plans the comparison with the base image: compare-to's
// reference, or with auto, on a pull request, the base branch's tag.
func planCompare(cfg *config.Config, p *pipeline.Plan, base *name.Tag) (pipeline.ComparePlan, error) {
	switch {
	case cfg.CompareTo == "false":
		return pipeline.ComparePlan{Reason: "compare-to is false"}, nil
	case !p.Scan.Enabled:
		return pipeline.ComparePlan{Reason: "the scan is off"}, nil
	case p.Partial || p.Merge:
		return pipeline.ComparePlan{Reason: "partial runs and merges do not compare (yet)"}, nil
	case p.Promote != nil:
		return pipeline.ComparePlan{Reason: "slipway promote moves an image as it is: there is no change to compare"}, nil
	case cfg.CompareTo == "auto" && p.CI.PR == 0:
		return pipeline.ComparePlan{Reason: "not a pull request, and compare-to is auto"}, nil
	case cfg.CompareTo == "auto" && base == nil:
		return pipeline.ComparePlan{Reason: "the tag rules give a push of the base branch no tag"}, nil
	case cfg.CompareTo == "auto":
		return pipeline.ComparePlan{Enabled: true, Base: *base, Auto: true}, nil
	}
	ref, err := name.ParseReference(cfg.CompareTo)
	if err != nil {
		return pipeline.ComparePlan{}, errs.Input("compare-to", "%q is not an image reference: %v (expected repository:tag, repository@sha256:…, auto or false)", cfg.CompareTo, err)
	}
	return pipeline.ComparePlan{Enabled: true, Base: ref}, nil
}

func planSign(cfg *config.Config, oidc, push bool) (pipeline.SignPlan, error) {
	s := pipeline.SignPlan{FulcioURL: cfg.FulcioURL, RekorURL: cfg.RekorURL, TlogUpload: cfg.TlogUpload, Attest: cfg.Attest, Format: cfg.SignatureFormat, TrustedRoot: cfg.TrustedRoot, TimestampURL: cfg.TimestampServerURL}
	if v, err := strconv.ParseUint(cfg.RekorVersion, 10, 32); err == nil {
		s.RekorVersion = uint32(v)
	}
	switch {
	case cfg.Sign == mode.Off:
		s.Reason = "sign is false"
	case !push:
		s.Reason = "nothing is pushed, so there is no digest in a registry to sign"
	case cfg.CosignKey != "":
		s.Enabled, s.Mode, s.Key = true, mode.Key, cfg.CosignKey
		s.FulcioURL = ""
	case oidc:
		s.Enabled, s.Mode = true, mode.Keyless
	case cfg.Sign == mode.On:
		return s, errs.Input("sign", "sign is true but there is neither a cosign-key nor an OIDC token (expected cosign-key, SIGSTORE_ID_TOKEN, or GitHub Actions' permissions: id-token: write)")
	default:
		s.Reason = "sign is auto and neither cosign-key nor an OIDC token is available"
	}
	if !s.Enabled {
		s.FulcioURL, s.RekorURL, s.Attest, s.Format, s.TrustedRoot, s.TimestampURL = "", "", false, "", "", ""
	}
	if !s.TlogUpload || !s.Enabled {
		s.RekorURL, s.RekorVersion = "", 0 // nothing is written to, nor read from, the log
	}
	return s, nil
}

func planReport(cfg *config.Config, c *ci.Context) pipeline.ReportPlan {
	r := pipeline.ReportPlan{Outputs: true, Summary: true, OutputDir: cfg.OutputDir, CommentMode: cfg.Comment}
	change := fmt.Sprintf("pull request #%d", c.PRNumber)
	if c.Forge.Kind == ci.ForgeGitLab {
		change = fmt.Sprintf("merge request !%d", c.PRNumber)
	}
	switch {
	case cfg.Comment == mode.CommentNever:
		r.Comment = "off (comment is never)"
	case c.PRNumber == 0 && c.Event == ci.EventBranchPush && c.Branch != "" && c.Forge.Kind != "":
		r.Comment = fmt.Sprintf("update the sticky comment of an open change request from %s, if one has it (none is created)", c.Branch)
	case c.PRNumber == 0:
		r.Comment = "off (not a pull request)"
	case c.Fork && cfg.Comment == mode.CommentAuto:
		r.Comment = "off (a pull request from a fork gets a read-only token; the summary says so)"
	default:
		r.Comment = "sticky comment on " + change
	}
	return r
}
