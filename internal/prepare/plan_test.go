package prepare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

func loaded(t *testing.T, flags map[string]string) *config.Loaded {
	t.Helper()
	l, err := config.Load(config.Options{Flags: flags, Env: environ.Map(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l
}

var pushCtx = &ci.Context{Provider: "github", Event: ci.EventBranchPush, EventName: "push", Ref: "refs/heads/main", SHA: "860c1904a1ce19322e91ac35af1ab07466440c37", Branch: "main"}

func metaResult() *meta.Result {
	return &meta.Result{
		Version: meta.Version{Main: "main"},
		Images:  []string{"ghcr.io/acme/app", "registry.example.com:5000/acme/app"},
		Tags: []string{"ghcr.io/acme/app:main", "ghcr.io/acme/app:sha-860c190",
			"registry.example.com:5000/acme/app:main", "registry.example.com:5000/acme/app:sha-860c190"},
		TagNames: []string{"main", "sha-860c190"},
	}
}

func TestPlanPushAndSteps(t *testing.T) {
	cfg := loaded(t, map[string]string{"cosign-key": "cosign.key", "platforms": "linux/amd64,linux/arm64"})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Publish.Push || !slices.Equal(p.Publish.Registries, []string{"ghcr.io", "registry.example.com:5000"}) {
		t.Errorf("publish = %+v", p.Publish)
	}
	if got := p.Publish.TagNames()["ghcr.io/acme/app"]; !slices.Equal(got, []string{"main", "sha-860c190"}) {
		t.Errorf("tags of ghcr.io/acme/app = %q", got)
	}
	var stages []pipeline.Stage
	for _, s := range p.Steps {
		stages = append(stages, s.Stage)
	}
	want := []pipeline.Stage{pipeline.StageBuild, pipeline.StageScan, pipeline.StageGate, pipeline.StageSign, pipeline.StageVerify, pipeline.StageCopy, pipeline.StageTag, pipeline.StageTag, pipeline.StageReport}
	if !slices.Equal(stages, want) {
		t.Errorf("stages = %v, want %v", stages, want)
	}
	if p.Sign.Mode != "key" {
		t.Errorf("sign mode = %q, want key", p.Sign.Mode)
	}
}

func TestPlanPullRequestDoesNotPush(t *testing.T) {
	pr := &ci.Context{Provider: "github", Event: ci.EventPullRequest, EventName: "pull_request", Ref: "refs/pull/7/merge", SHA: "abc", PRNumber: 7, Fork: true}
	p, err := Plan(Inputs{Config: loaded(t, nil), CI: pr, Meta: &meta.Result{Images: []string{"ghcr.io/acme/app"}, Tags: []string{"ghcr.io/acme/app:pr-7"}, TagNames: []string{"pr-7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Publish.Push || p.Sign.Enabled {
		t.Errorf("push=%v sign=%v on a pull request with push=auto", p.Publish.Push, p.Sign.Enabled)
	}
	for _, s := range p.Steps {
		if s.Stage == pipeline.StageTag || s.Stage == pipeline.StageSign {
			t.Errorf("step %v planned on a pull request", s)
		}
	}
	if !strings.Contains(p.Report.Comment, "fork") {
		t.Errorf("comment = %q, want it to say why a fork PR gets none", p.Report.Comment)
	}
}

func TestPlanRedactsSecrets(t *testing.T) {
	cfg := loaded(t, map[string]string{
		"build-args": "NPM_TOKEN=s3cr3t-npm\nVERSION=1.2\nPLAIN=inline-value",
		"secrets":    "GIT_AUTH_TOKEN=inline-value\nid=npmrc,src=/run/npmrc",
	})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	out := planText(t, p)
	for _, secret := range []string{"s3cr3t-npm", "inline-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("plan shows secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"VERSION=1.2", "NPM_TOKEN=***", "id=npmrc,src=/run/npmrc", "id=GIT_AUTH_TOKEN,value=***"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanBadImage(t *testing.T) {
	_, err := Plan(Inputs{Config: loaded(t, nil), CI: pushCtx, Meta: &meta.Result{Images: []string{"ghcr.io/Acme/App!"}}})
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "images" {
		t.Fatalf("got %v, want an input error for images", err)
	}
	_, err = Plan(Inputs{Config: loaded(t, nil), CI: pushCtx, Meta: &meta.Result{Images: []string{"ghcr.io/acme/app"}, TagNames: []string{"-dash"}}})
	if !errors.As(err, &ie) || ie.Input != "tags" {
		t.Fatalf("a tag that no registry accepts: got %v, want an input error for tags", err)
	}
	_, err = Plan(Inputs{Config: loaded(t, map[string]string{"push": "true"}), CI: pushCtx, Meta: &meta.Result{}})
	if !errors.As(err, &ie) || ie.Input != "images" {
		t.Fatalf("push with no image: got %v, want an input error for images", err)
	}
}

// recorder is a pipeline.Stages implementation that records calls and can fail one.
type recorder struct {
	calls  []string
	failAt string
	scan   *pipeline.ScanResult
}

func (r *recorder) hit(name string) error {
	r.calls = append(r.calls, name)
	if name == r.failAt {
		return errors.New(name + " exploded")
	}
	return nil
}

func (r *recorder) Build(context.Context, *pipeline.BuildPlan, *pipeline.PublishPlan) (*pipeline.BuildResult, error) {
	return &pipeline.BuildResult{Digest: abc}, r.hit("build")
}
func (r *recorder) Scan(context.Context, *pipeline.ScanPlan, *pipeline.BuildResult) (*pipeline.ScanResult, error) {
	return r.scan, r.hit("scan")
}
func (r *recorder) Sign(_ context.Context, _ *pipeline.SignPlan, repo name.Repository, _ *pipeline.BuildResult, _ *pipeline.ScanResult) (*pipeline.SignResult, error) {
	return &pipeline.SignResult{Artifacts: []artifact.Attached{{Kind: artifact.Signature, Subject: abc}}}, r.hit("sign " + repo.String())
}
func (r *recorder) Verify(_ context.Context, _ *pipeline.SignPlan, repos []name.Repository, _ *pipeline.BuildResult, _ *pipeline.SignResult) error {
	return r.hit("verify " + list(repos))
}
func (r *recorder) Copy(_ context.Context, src pipeline.CopySource, to []name.Repository) error {
	return r.hit("copy " + src.Ref.Context().String() + " " + list(to) + " " + list(src.Attached))
}
func (r *recorder) Tag(_ context.Context, d name.Digest, _ []name.Tag) error {
	return r.hit("tag " + d.String())
}

// abc is the recorder's build digest.
var abc = v1.Hash{Algorithm: "sha256", Hex: "abc"}

func (r *recorder) Notify(context.Context, *pipeline.Plan, *pipeline.Result) error {
	return r.hit("report")
}

func (r *recorder) stages() pipeline.Stages {
	return pipeline.Stages{Builder: r, Scanner: r, Signer: r, Copier: r, Tagger: r, Notifier: r}
}

func TestRunOrderAndNoTagAfterFailure(t *testing.T) {
	cfg := loaded(t, map[string]string{"cosign-key": "cosign.key"})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	passed := &pipeline.ScanResult{Passed: true}
	r := &recorder{scan: passed}
	res, err := pipeline.Run(context.Background(), p, r.stages())
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "ghcr.io/acme/app", "registry.example.com:5000/acme/app"
	want := []string{"build", "scan", "sign " + a, "verify " + a, "copy " + a + " " + b + " sha256-abc.sig", "verify " + b,
		"tag " + a + "@sha256:abc", "tag " + b + "@sha256:abc", "report"}
	if !slices.Equal(r.calls, want) {
		t.Errorf("calls = %q, want %q", r.calls, want)
	}
	ra, rb := name.MustParseReference(a+":x").Context(), name.MustParseReference(b+":x").Context()
	wantImages := []pipeline.PublishedImage{
		{Repository: ra, Ref: ra.Digest("sha256:abc"), Tags: []name.Tag{ra.Tag("main"), ra.Tag("sha-860c190")}},
		{Repository: rb, Ref: rb.Digest("sha256:abc"), Tags: []name.Tag{rb.Tag("main"), rb.Tag("sha-860c190")}},
	}
	if js, want := fmt.Sprint(res.Images), fmt.Sprint(wantImages); js != want {
		t.Errorf("images = %s, want %s", js, want)
	}
	if sigs := list(res.Sign.Signatures); sigs != b+":sha256-abc.sig" || !res.Sign.Verified {
		t.Errorf("sign result = %+v", res.Sign)
	}

	for fail, stage := range map[string]pipeline.Stage{"build": pipeline.StageBuild, "scan": pipeline.StageScan, "sign " + a: pipeline.StageSign, "verify " + a: pipeline.StageVerify,
		"copy " + a + " " + b + " sha256-abc.sig": pipeline.StageCopy, "verify " + b: pipeline.StageCopy} {
		r := &recorder{scan: passed, failAt: fail}
		_, err := pipeline.Run(context.Background(), p, r.stages())
		var se *errs.StageError
		if !errors.As(err, &se) || se.Stage != string(stage) || errs.ExitCode(err) != errs.ExitStageFail {
			t.Errorf("failing %s: got %v, want a stage error for it with exit 1", fail, err)
		}
		for _, c := range r.calls {
			if strings.HasPrefix(c, "tag ") {
				t.Errorf("failing %s: a tag moved: %q", fail, r.calls)
			}
		}
		if r.calls[len(r.calls)-1] != "report" {
			t.Errorf("failing %s: the report did not run last: %q", fail, r.calls)
		}
	}

	r = &recorder{scan: &pipeline.ScanResult{Passed: false, Verdict: "1 CRITICAL"}}
	_, err = pipeline.Run(context.Background(), p, r.stages())
	var se *errs.StageError
	if !errors.As(err, &se) || se.Stage != string(pipeline.StageGate) || !strings.Contains(err.Error(), "untagged") {
		t.Errorf("failed gate: got %v", err)
	}
	if slices.ContainsFunc(r.calls, func(c string) bool { return strings.HasPrefix(c, "tag ") }) {
		t.Errorf("failed gate moved a tag: %q", r.calls)
	}
}

func TestDryRunWalksTheSamePlan(t *testing.T) {
	p, err := Plan(Inputs{Config: loaded(t, map[string]string{"cosign-key": "k"}), CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := pipeline.Run(context.Background(), p, pipeline.Nop(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Done, p.Steps) {
		t.Errorf("dry run did %v, plan has %v", res.Done, p.Steps)
	}
	if !strings.Contains(buf.String(), "would tag ghcr.io/acme/app with [main sha-860c190]") {
		t.Errorf("dry run output:\n%s", buf.String())
	}
}

func TestPlanWithoutImages(t *testing.T) {
	p, err := Plan(Inputs{Config: loaded(t, map[string]string{"push": "false"}), CI: pushCtx, Meta: &meta.Result{Tags: []string{"main", "sha-860c190"}, TagNames: []string{"main", "sha-860c190"}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Publish.Push || len(p.Publish.Tags) != 0 {
		t.Errorf("publish = %+v, want nothing to push or tag", p.Publish)
	}
}

// sign: true with neither a key nor an OIDC token is bad input.
func TestPlanSignTrueWithoutIdentity(t *testing.T) {
	_, err := Plan(Inputs{Config: loaded(t, map[string]string{"sign": "true"}), CI: pushCtx, Meta: metaResult()})
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "sign" {
		t.Errorf("sign: true without a key or token: %v, want an input error", err)
	}
}

// Credentials in cache entries and build contexts never reach the plan.
func TestPlanRedactsCacheCredentials(t *testing.T) {
	cfg := loaded(t, map[string]string{
		"cache-from":     "ghcr.io/acme/app:cache",
		"cache-to":       "type=s3,region=eu-west-1,bucket=b,access_key_id=AKIAEXAMPLE,secret_access_key=s3-secret-value\ntype=gha,token=gha-token-value",
		"build-contexts": "src=https://user:ctx-token-value@git.example.com/repo.git",
	})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	text := planText(t, p)
	js, _ := json.Marshal(p)
	for _, secret := range []string{"AKIAEXAMPLE", "s3-secret-value", "gha-token-value", "ctx-token-value"} {
		if strings.Contains(text+string(js), secret) {
			t.Errorf("the plan shows %q", secret)
		}
		if !slices.Contains(cfg.SecretValues(), secret) {
			t.Errorf("%q is not masked", secret)
		}
	}
	if from, to := p.Build.CacheFrom, p.Build.CacheTo; len(from) != 1 || len(to) != 2 || !strings.Contains(string(to[0]), "s3-secret-value") {
		t.Errorf("the build lost its cache entries: %q %q", from, to)
	}
	if strings.Contains(fmt.Sprintf("%v %+v", p, p), "s3-secret-value") {
		t.Errorf("formatting the plan shows a secret: %+v", p.Build)
	}
	if !strings.Contains(text, "ghcr.io/acme/app:cache") {
		t.Errorf("a bare cache-from reference is missing from the plan:\n%s", text)
	}
}

// planText is the plan as WriteText prints it.
func planText(t *testing.T, p *pipeline.Plan) string {
	t.Helper()
	var buf bytes.Buffer
	if err := p.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Keyless needs an OIDC token: sign: true without one (nor a key) is bad
// input; keyless without the transparency log is planned with a warning,
// which the run's result carries.
func TestPlanKeyless(t *testing.T) {
	_, err := Plan(Inputs{Config: loaded(t, map[string]string{"sign": "true"}), CI: pushCtx, Meta: metaResult()})
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "sign" || !strings.Contains(err.Error(), "OIDC") {
		t.Errorf("sign: true without a key or token: %v, want an input error", err)
	}
	cfg := loaded(t, map[string]string{"tlog-upload": "false"})
	cfg.OIDC = true
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil || p.Sign.Mode != "keyless" || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "10 minutes") {
		t.Fatalf("keyless without the log: %+v %q, %v", p.Sign, p.Warnings, err)
	}
	if !strings.Contains(planText(t, p), "10 minutes") {
		t.Error("the printed plan does not warn")
	}
	res, err := pipeline.Run(context.Background(), p, pipeline.Nop(io.Discard))
	if err != nil || !slices.Equal(res.Warnings, p.Warnings) {
		t.Errorf("result warnings %q (%v), want the plan's", res.Warnings, err)
	}
}

// list renders references: "a, b".
func list[T fmt.Stringer](refs []T) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// Keyless signing with a Rekor v2 log needs a timestamp authority: bad
// input, before anything is built; with one, it is planned.
func TestPlanBundleLimits(t *testing.T) {
	for _, tc := range []struct {
		flags map[string]string
		oidc  bool
		input string
	}{
		{map[string]string{"signature-format": "bundle", "rekor-version": "2"}, true, "timestamp-server-url"},
	} {
		cfg := loaded(t, tc.flags)
		cfg.OIDC = tc.oidc
		_, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
		var ie *errs.InputError
		if !errors.As(err, &ie) || ie.Input != tc.input {
			t.Errorf("%v: %v, want an input error for %s", tc.flags, err, tc.input)
		}
	}
	// Legacy signatures carry a Rekor v1 entry: with a v2 log, the input
	// is refused as it is read.
	l, err := config.Load(config.Options{Flags: map[string]string{"signature-format": "both", "rekor-version": "2"}, Env: environ.Map(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var ie *errs.InputError
	if err := l.Validate(); !errors.As(err, &ie) || ie.Input != "signature-format" {
		t.Errorf("legacy signatures with a Rekor v2 log: %v, want an input error for signature-format", err)
	}
	cfg := loaded(t, map[string]string{"cosign-key": "k", "signature-format": "bundle", "rekor-version": "2"})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil || p.Sign.Format != mode.FormatBundle || p.Sign.RekorVersion != 2 || len(p.Publish.Copies()) != 1 {
		t.Errorf("two images, a key, bundles on a Rekor v2 log: %+v, %v", p.Sign, err)
	}
	// With a timestamp authority, keyless bundles on a Rekor v2 log are
	// planned; a timestamp authority for legacy signatures only, or one
	// that is no URL, is refused as it is read.
	const tsa = "https://timestamp.example.com/api/v1/timestamp"
	cfg = loaded(t, map[string]string{"signature-format": "bundle", "rekor-version": "2", "timestamp-server-url": tsa})
	cfg.OIDC = true
	if p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()}); err != nil || p.Sign.Mode != mode.Keyless || p.Sign.TimestampURL != tsa {
		t.Errorf("keyless bundles on a Rekor v2 log, timestamped: %+v, %v", p.Sign, err)
	}
	for _, flags := range []map[string]string{
		{"signature-format": "legacy", "timestamp-server-url": tsa},
		{"signature-format": "bundle", "timestamp-server-url": "timestamp.example.com"},
	} {
		l, err := config.Load(config.Options{Flags: flags, Env: environ.Map(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Validate(); !errors.As(err, &ie) || ie.Input != "timestamp-server-url" {
			t.Errorf("%v: %v, want an input error for timestamp-server-url", flags, err)
		}
	}
}

// A builder of several nodes plans each node's platforms (the
// builder-tls-* inputs as the mTLS of a node that names none) and, with
// no platforms given, builds every node's; a platform no node builds is
// bad input naming builder.
func TestPlanBuilderNodes(t *testing.T) {
	const nodes = "tcp://amd64:1234 platforms=linux/amd64\ntcp://arm64:1234 platforms=linux/arm64 tls-ca=/arm/ca.pem"
	cfg := loaded(t, map[string]string{"builder": nodes, "builder-tls-ca": "/ci/ca.pem"})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	want := []attrs.BuilderNode{
		{Address: "tcp://amd64:1234", Platforms: []string{"linux/amd64"}, TLS: attrs.NodeTLS{CA: "/ci/ca.pem"}},
		{Address: "tcp://arm64:1234", Platforms: []string{"linux/arm64"}, TLS: attrs.NodeTLS{CA: "/arm/ca.pem"}},
	}
	if !reflect.DeepEqual(p.Build.Nodes, want) || !slices.Equal(p.Build.Platforms, []string{"linux/amd64", "linux/arm64"}) || p.Build.Builder != "2 BuildKit nodes" {
		t.Errorf("nodes %+v, platforms %v, builder %q", p.Build.Nodes, p.Build.Platforms, p.Build.Builder)
	}
	l, err := config.Load(config.Options{Flags: map[string]string{"builder": nodes, "platforms": "linux/arm64,linux/s390x"}, Env: environ.Map(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var ie *errs.InputError
	if err := l.Validate(); !errors.As(err, &ie) || ie.Input != "builder" || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("a platform no node builds: %v", err)
	}
}

// A partial run builds one platform, pushed, and signs nothing (even with
// a key): build, scan, record, report; with several platforms, or no
// push, it is bad input naming partial.
func TestPlanPartial(t *testing.T) {
	cfg := loaded(t, map[string]string{"partial": "true", "platforms": "linux/arm64", "cosign-key": "k", "scan": "true"})
	p, err := Plan(Inputs{Config: cfg, CI: pushCtx, Meta: metaResult()})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, s := range p.Steps {
		stages = append(stages, string(s.Stage))
	}
	if !p.Partial || p.Sign.Enabled || strings.Join(stages, " ") != "build scan record report" {
		t.Errorf("partial %v, sign %+v, steps %v", p.Partial, p.Sign, stages)
	}
	for _, flags := range []map[string]string{
		{"partial": "true", "platforms": "linux/amd64,linux/arm64"},
		{"partial": "true", "platforms": "linux/arm64", "push": "false"},
	} {
		_, err := Plan(Inputs{Config: loaded(t, flags), CI: pushCtx, Meta: metaResult()})
		var ie *errs.InputError
		if !errors.As(err, &ie) || ie.Input != "partial" {
			t.Errorf("%v: %v, want an input error for partial", flags, err)
		}
	}
}

// slipway merge plans the index of the partial runs that from names, or,
// without from, that SLIPWAY_RESULT_PARTIAL_* variables name (in name
// order); a line that is not <platform> <digest> <digest>, a platform
// twice, or several images are bad input.
func TestPlanMerge(t *testing.T) {
	const (
		amd = "linux/amd64 sha256:1111111111111111111111111111111111111111111111111111111111111111 sha256:2222222222222222222222222222222222222222222222222222222222222222"
		arm = "linux/arm64 sha256:3333333333333333333333333333333333333333333333333333333333333333 sha256:4444444444444444444444444444444444444444444444444444444444444444"
	)
	plan := func(flags, env map[string]string) (*pipeline.Plan, error) {
		if env == nil {
			env = map[string]string{}
		}
		env["SLIPWAY_CONTEXT"] = t.TempDir()
		md := metaResult() // two images
		if _, two := flags["images"]; !two {
			md.Images, md.Tags = md.Images[:1], md.Tags[:2]
		}
		l, err := config.Load(config.Options{Flags: flags, Env: environ.Map(env)})
		if err != nil {
			return nil, err
		}
		if err := l.Validate(); err != nil {
			return nil, err
		}
		return Plan(Inputs{Config: l, CI: pushCtx, Meta: md, Merge: true})
	}
	for _, tc := range []struct {
		name       string
		flags, env map[string]string
	}{
		{"from", map[string]string{"from": amd + "\n" + arm}, nil},
		{"dotenv", nil, map[string]string{"SLIPWAY_RESULT_PARTIAL_LINUX_ARM64": arm, "SLIPWAY_RESULT_PARTIAL_LINUX_AMD64": amd}},
	} {
		p, err := plan(tc.flags, tc.env)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var stages []string
		for _, s := range p.Steps {
			stages = append(stages, string(s.Stage))
		}
		if !p.Merge || len(p.Build.From) != 2 || !slices.Equal(p.Build.Platforms, []string{"linux/amd64", "linux/arm64"}) ||
			p.Build.From[1].Record.Hex != strings.Repeat("4", 64) || strings.Join(stages, " ") != "build scan gate tag report" {
			t.Errorf("%s: merge %v, from %+v, platforms %v, steps %v", tc.name, p.Merge, p.Build.From, p.Build.Platforms, stages)
		}
	}
	for _, flags := range []map[string]string{
		{},
		{"from": "linux/arm64 sha256:abc"},
		{"from": "linux/arm64 3333 4444"},
		{"from": arm + "\n" + arm},
		{"from": amd, "platforms": "linux/arm64"},
		{"from": amd, "images": "ghcr.io/acme/app\nregistry.example.com/acme/app"},
		{"from": amd, "partial": "true", "platforms": "linux/amd64"},
	} {
		_, err := plan(flags, nil)
		var ie *errs.InputError
		if !errors.As(err, &ie) {
			t.Errorf("%v: %v, want an input error", flags, err)
		}
	}
}

// The comparison: on a pull request with compare-to auto, the base
// branch's tag; a reference on any event; nothing with false, on a push
// with auto, or with the scan off; a bad reference is an input error
// naming compare-to; gate: new without a base warns.
func TestPlanCompare(t *testing.T) {
	pr := &ci.Context{Provider: "github", Event: ci.EventPullRequest, EventName: "pull_request", Ref: "refs/pull/7/merge", SHA: "abc", PRNumber: 7, BaseRef: "main"}
	prMeta := &meta.Result{Images: []string{"ghcr.io/acme/app"}, Tags: []string{"ghcr.io/acme/app:pr-7"}, TagNames: []string{"pr-7"}}
	mainTag, _ := name.NewTag("ghcr.io/acme/app:main")
	for _, c := range []struct {
		name    string
		flags   map[string]string
		ctx     *ci.Context
		base    *name.Tag
		enabled string // the base compared with, "" for none
		reason  string
		warn    string
	}{
		{name: "pull request", ctx: pr, base: &mainTag, enabled: "ghcr.io/acme/app:main"},
		{name: "pull request, no base tag", ctx: pr, reason: "no tag"},
		{name: "push", ctx: pushCtx, reason: "not a pull request"},
		{name: "given", flags: map[string]string{"compare-to": "registry.example.com/base/app:v1"}, ctx: pushCtx, enabled: "registry.example.com/base/app:v1"},
		{name: "false", flags: map[string]string{"compare-to": "false"}, ctx: pr, base: &mainTag, reason: "compare-to is false"},
		{name: "scan off", flags: map[string]string{"scan": "false"}, ctx: pr, base: &mainTag, reason: "the scan is off"},
		{name: "gate new without base", flags: map[string]string{"gate": "new"}, ctx: pushCtx, reason: "not a pull request", warn: "gate is new, but there is no image to compare with"},
	} {
		t.Run(c.name, func(t *testing.T) {
			md := prMeta
			if c.ctx == pushCtx {
				md = metaResult()
			}
			p, err := Plan(Inputs{Config: loaded(t, c.flags), CI: c.ctx, Meta: md, BaseTag: c.base})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p.Compare.Enabled {
				got = p.Compare.Base.String()
			}
			if got != c.enabled || !strings.Contains(p.Compare.Reason, c.reason) {
				t.Errorf("compare %+v, want base %q, reason %q", p.Compare, c.enabled, c.reason)
			}
			hasStep := slices.ContainsFunc(p.Steps, func(s pipeline.Step) bool { return s.Stage == pipeline.StageCompare })
			if hasStep != p.Compare.Enabled {
				t.Errorf("compare step planned: %v, compare enabled: %v", hasStep, p.Compare.Enabled)
			}
			if c.warn != "" && !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, c.warn) }) {
				t.Errorf("warnings %q, want %q", p.Warnings, c.warn)
			}
		})
	}
	_, err := Plan(Inputs{Config: loaded(t, map[string]string{"compare-to": "Not A Ref!"}), CI: pr, Meta: prMeta})
	if err == nil || !strings.Contains(err.Error(), "compare-to") {
		t.Errorf("a bad compare-to: %v, want an input error naming it", err)
	}
}

// The base branch's tag: the one the rules give a push of it that does
// not vary with the commit; none when every such tag does.
func TestBranchTag(t *testing.T) {
	pr := &ci.Context{Provider: "github", Event: ci.EventPullRequest, EventName: "pull_request", Ref: "refs/pull/7/merge", SHA: strings.Repeat("a", 40),
		PRNumber: 7, BaseRef: "main", Repository: ci.Repository{Name: "acme/app", DefaultBranch: "main"}}
	for rules, want := range map[string]string{
		"":                            "ghcr.io/acme/app:main", // slipway's defaults: sha-…, branch, …
		"type=sha\ntype=ref,event=pr": "",
		"type=sha\ntype=raw,value=edge,enable={{is_default_branch}}": "ghcr.io/acme/app:edge",
	} {
		var tags []string
		if rules != "" {
			tags = strings.Split(rules, "\n")
		}
		spec, err := meta.Parse(meta.Inputs{Images: []string{"ghcr.io/acme/app", "quay.io/acme/app"}, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if tag := branchTag(spec, pr, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), pr.BaseRef); tag != nil {
			got = tag.String()
		}
		if got != want {
			t.Errorf("rules %q: base tag %q, want %q", rules, got, want)
		}
	}
}

// slipway promote's plan: the source by digest, verified by the key or
// the keyless identity given, judged, copied to every repository of
// images, tagged only with the tags input's tags; each missing or
// contradictory input is an input error naming it.
func TestPlanPromote(t *testing.T) {
	const src = "ghcr.io/acme/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	plan := func(flags map[string]string) (*pipeline.Plan, error) {
		l, err := config.Load(config.Options{Flags: flags, Env: environ.Map(nil)})
		if err != nil {
			return nil, err
		}
		if err := l.Validate(); err != nil {
			return nil, err
		}
		md := metaResult()
		md.Images = []string{"registry.example.com:5000/acme/app", "prod.example.com/acme/app"}
		md.Tags = []string{"registry.example.com:5000/acme/app:main", "prod.example.com/acme/app:main"}
		if _, ok := flags["tags"]; ok {
			md.Tags = []string{"registry.example.com:5000/acme/app:v1", "prod.example.com/acme/app:v1"}
			md.TagNames = []string{"v1"}
		}
		return Plan(Inputs{Config: l, CI: pushCtx, Meta: md, Promote: true})
	}
	p, err := plan(map[string]string{"source": src, "cosign-key": "cosign.pub", "tags": "v1", "report-max-age": "2h"})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, s := range p.Steps {
		stages = append(stages, string(s.Stage))
	}
	pr := p.Promote
	if pr == nil || pr.Source.String() != src || pr.ReportMaxAge != 2*time.Hour || pr.Identity != "key cosign.pub" ||
		p.Sign.Mode != mode.Key || p.Sign.Attest || p.Compare.Enabled ||
		strings.Join(stages, " ") != "source verify-source scan gate copy tag tag report" {
		t.Errorf("promote %+v, sign %+v, steps %v", pr, p.Sign, stages)
	}
	if got := p.Publish.TagNames()["prod.example.com/acme/app"]; !slices.Equal(got, []string{"v1"}) {
		t.Errorf("tags in prod = %v, want v1", got)
	}
	// No tags input: no tag (the default rules are a build's).
	p, err = plan(map[string]string{"source": src, "certificate-identity": "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "certificate-oidc-issuer": "https://token.actions.githubusercontent.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Publish.Tags) != 0 || p.Sign.Mode != mode.Keyless || !strings.Contains(p.Promote.Identity, "release.yml") {
		t.Errorf("tags %v, sign %+v, identity %q", p.Publish.Tags, p.Sign, p.Promote.Identity)
	}
	for input, flags := range map[string]map[string]string{
		"source":                  {"cosign-key": "cosign.pub"},
		"source ":                 {"source": "ghcr.io/acme/app:v1", "cosign-key": "cosign.pub"},
		"cosign-key":              {"source": src},
		"certificate-oidc-issuer": {"source": src, "certificate-identity": "me"},
		"certificate-identity":    {"source": src, "certificate-identity": "me", "certificate-oidc-issuer": "https://issuer", "cosign-key": "cosign.pub"},
		"sign":                    {"source": src, "cosign-key": "cosign.pub", "sign": "false"},
		"images":                  {"source": src, "cosign-key": "cosign.pub", "push": "false"},
		"report-max-age":          {"source": src, "cosign-key": "cosign.pub", "report-max-age": "a day"},
		"partial":                 {"source": src, "cosign-key": "cosign.pub", "partial": "true"},
	} {
		_, err := plan(flags)
		var ie *errs.InputError
		if !errors.As(err, &ie) || ie.Input != strings.TrimSpace(input) {
			t.Errorf("%v: %v, want an input error naming %s", flags, err, input)
		}
	}
}

// call replaces the build with its one step; load adds a step after the
// build; outputs ride in the build's solve; none of them where nothing is
// built (merge, promote), call not in a partial run, outputs not on
// several nodes.
func TestPlanCallLoadOutputs(t *testing.T) {
	stages := func(p *pipeline.Plan) string {
		var s []string
		for _, st := range p.Steps {
			s = append(s, string(st.Stage))
		}
		return strings.Join(s, " ")
	}
	p, err := Plan(Inputs{Config: loaded(t, map[string]string{"call": "check", "cosign-key": "k"}), CI: pushCtx, Meta: metaResult()})
	if err != nil || stages(p) != "call report" || p.Build.Call.Name != "lint" {
		t.Errorf("call check: steps %q, call %+v, %v", stages(p), p.Build.Call, err)
	}
	p, err = Plan(Inputs{Config: loaded(t, map[string]string{"call": "targets"}), CI: pushCtx, Meta: metaResult()})
	if err != nil || stages(p) != "call report" || p.Report.CommentMode != mode.CommentNever {
		t.Errorf("call targets: steps %q, comment %q, %v", stages(p), p.Report.CommentMode, err)
	}
	p, err = Plan(Inputs{Config: loaded(t, map[string]string{"load": "true", "outputs": "type=local,dest=out", "docker-host": "unix:///run/d.sock"}), CI: pushCtx, Meta: metaResult()})
	if err != nil || !strings.HasPrefix(stages(p), "build load scan ") {
		t.Fatalf("load: steps %q, %v", stages(p), err)
	}
	if p.Build.Load.DockerHost != "unix:///run/d.sock" || !strings.HasSuffix(p.Steps[0].Action, "; also export type=local,dest=out (outputs)") {
		t.Errorf("load %+v, build step %q", p.Build.Load, p.Steps[0].Action)
	}
	p, err = Plan(Inputs{Config: loaded(t, map[string]string{"outputs": "type=docker"}), CI: pushCtx, Meta: metaResult()})
	if err != nil || p.Build.Load == nil || len(p.Build.Outputs) != 0 {
		t.Errorf("outputs type=docker: load %+v, outputs %v, %v", p.Build.Load, p.Build.Outputs, err)
	}
	for _, tc := range []struct {
		flags map[string]string
		in    Inputs
		input string
	}{
		{map[string]string{"call": "check", "from": "linux/amd64 sha256:1111111111111111111111111111111111111111111111111111111111111111 sha256:2222222222222222222222222222222222222222222222222222222222222222"}, Inputs{Merge: true}, "call"},
		{map[string]string{"load": "true", "source": "ghcr.io/acme/app@sha256:1111111111111111111111111111111111111111111111111111111111111111", "images": "ghcr.io/acme/prod", "cosign-key": "k"}, Inputs{Promote: true}, "load"},
		{map[string]string{"call": "check", "partial": "true", "platforms": "linux/arm64"}, Inputs{}, "call"},
		{map[string]string{"outputs": "type=local,dest=o", "builder": "tcp://a:1234 platforms=linux/amd64\ntcp://b:1234 platforms=linux/arm64"}, Inputs{}, "outputs"},
	} {
		in := tc.in
		in.Config, in.CI, in.Meta = loaded(t, tc.flags), pushCtx, metaResult()
		_, err := Plan(in)
		var ie *errs.InputError
		if !errors.As(err, &ie) || ie.Input != tc.input {
			t.Errorf("%v: %v, want an input error for %s", tc.flags, err, tc.input)
		}
	}
}
