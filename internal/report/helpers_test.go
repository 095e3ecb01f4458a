package report

import (
	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/severity"

	"github.com/google/go-containerregistry/pkg/name"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testdata is the absolute testdata directory: tests change directory.
var testdata, _ = filepath.Abs("testdata")

// outputs records what a Notifier writes to the CI platform.
type outputs struct {
	set     map[string]string
	keys    []string
	summary string
}

func newOutputs() *outputs { return &outputs{set: map[string]string{}} }

func (o *outputs) SetOutput(name, value string) error {
	if _, ok := o.set[name]; !ok {
		o.keys = append(o.keys, name)
	}
	o.set[name] = value
	return nil
}
func (o *outputs) AddSummary(md string) error { o.summary += md; return nil }
func (o *outputs) Mask(string)                {}

const (
	digest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	amd64   = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	arm64   = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	ghcr    = "ghcr.io/acme/app"
	quay    = "quay.io/acme/app"
	headSHA = "0123456789abcdef0123456789abcdef01234567"
	runURL  = "https://github.com/acme/app/actions/runs/42"
)

// fixedPlan is the plan of a pull request build of ghcr.io/acme/app and
// quay.io/acme/app for two platforms, scanned, gated on CRITICAL and
// signed keyless (push: true).
func fixedPlan() *pipeline.Plan {
	tags := []string{"pr-7", "sha-0123456"}
	return &pipeline.Plan{
		CI: pipeline.CIPlan{
			Provider: ci.NameGitHub, Event: string(ci.EventPullRequest), EventName: "pull_request",
			Ref: "refs/pull/7/merge", SHA: headSHA, Branch: "feature/login", PR: 7, BaseRef: "main",
			DefaultBranch: "main", Repository: "acme/app", RunURL: runURL,
		},
		Metadata: pipeline.MetadataPlan{
			Version: meta.Version{Main: "pr-7", Partial: []string{}},
			Tags:    []string{ghcr + ":pr-7", ghcr + ":sha-0123456", quay + ":pr-7", quay + ":sha-0123456"},
			Labels:  map[string]string{"org.opencontainers.image.revision": headSHA}, Annotations: []string{},
		},
		Build: pipeline.BuildPlan{Context: ".", File: "Dockerfile", Platforms: []string{"linux/amd64", "linux/arm64"}, OutputDir: ".slipway"},
		Publish: pipeline.PublishPlan{
			Push: true, Repositories: []name.Repository{repo(ghcr), repo(quay)}, Registries: []string{"ghcr.io", "quay.io"},
			Tags: []name.Tag{repo(ghcr).Tag(tags[0]), repo(ghcr).Tag(tags[1]), repo(quay).Tag(tags[0]), repo(quay).Tag(tags[1])},
		},
		Scan:   pipeline.ScanPlan{Enabled: true, Severity: []severity.Severity{"CRITICAL"}, Fail: true},
		Sign:   pipeline.SignPlan{Enabled: true, Mode: "keyless", TlogUpload: true, Attest: true},
		Report: pipeline.ReportPlan{Outputs: true, Summary: true, Comment: "sticky comment on pull request #7", OutputDir: ".slipway"},
		Steps: []pipeline.Step{
			{Stage: pipeline.StageBuild, Action: "build"}, {Stage: pipeline.StageScan, Action: "scan"},
			{Stage: pipeline.StageGate, Action: "gate"}, {Stage: pipeline.StageSign, Action: "sign"},
			{Stage: pipeline.StageVerify, Action: "verify"}, {Stage: pipeline.StageCopy, Action: "copy"},
			{Stage: pipeline.StageTag, Action: "tag", Repository: repo(ghcr)}, {Stage: pipeline.StageTag, Action: "tag", Repository: repo(quay)},
			{Stage: pipeline.StageReport, Action: "report"},
		},
	}
}

var (
	critical = pipeline.Finding{
		ID: "CVE-2024-0001", Severity: "CRITICAL", Package: "openssl", Installed: "3.0.1-r0", Fixed: "3.0.2-r0",
		Title: "a | pipe <b>and</b> HTML", URL: "https://avd.aquasec.com/nvd/cve-2024-0001", Platforms: []string{"linux/amd64", "linux/arm64"},
	}
	high = pipeline.Finding{
		ID: "GHSA-xxxx-yyyy-zzzz", Severity: "HIGH", Package: "golang.org/x/net", Installed: "v0.1.0", Fixed: "v0.7.0",
		Path: "usr/bin/app", Platforms: []string{"linux/amd64"},
	}
	medium = pipeline.Finding{
		ID: "CVE-2023-0002", Severity: "MEDIUM", Package: "busybox", Installed: "1.36.1-r0", Status: "affected",
		Platforms: []string{"linux/arm64"},
	}
)

// fixedResult is a run of fixedPlan that passed: every step done.
func fixedResult(p *pipeline.Plan) *pipeline.Result {
	r := &pipeline.Result{
		Build: &pipeline.BuildResult{
			Digest: hash(digest), LayoutDir: ".slipway/oci",
			Platforms: []pipeline.PlatformImage{{Platform: "linux/amd64", Digest: hash(amd64), Size: 3 << 20}, {Platform: "linux/arm64", Digest: hash(arm64), Size: 2<<20 + 512<<10}},
			Metadata:  map[string]any{"containerimage.digest": digest, "image.name": ghcr + "@" + digest},
			Duration:  83 * time.Second, Steps: 8, CachedSteps: 6,
		},
		Scan: &pipeline.ScanResult{
			Counts: map[severity.Severity]int{"CRITICAL": 0, "HIGH": 1, "MEDIUM": 1, "LOW": 4, "UNKNOWN": 0}, Passed: true,
			Verdict: "gate passed: no CRITICAL vulnerability", Threshold: []severity.Severity{"CRITICAL"},
			Blocking: []pipeline.Finding{}, Findings: []pipeline.Finding{high, medium}, Ignored: 2, Unfixed: 0,
			Platforms: []pipeline.ScanPlatform{
				{Platform: "linux/amd64", Digest: amd64, Artifact: ghcr + "@" + amd64, OS: "alpine 3.22.1", Packages: 20, Counts: map[severity.Severity]int{"HIGH": 1}},
				{Platform: "linux/arm64", Digest: arm64, Artifact: ghcr + "@" + arm64, OS: "alpine 3.22.1", Packages: 20, Counts: map[severity.Severity]int{"MEDIUM": 1}},
			},
			Reports: []pipeline.ReportFile{
				{Format: "json", Path: ".slipway/trivy-report.json"},
				{Format: "sarif", Path: ".slipway/trivy-results.sarif"},
				{Format: "gitlab", Path: ".slipway/gl-container-scanning-report.json"},
				{Format: "cyclonedx", Platform: "linux/amd64", Path: ".slipway/sbom-linux-amd64.cdx.json"},
				{Format: "cyclonedx", Platform: "linux/arm64", Path: ".slipway/sbom-linux-arm64.cdx.json"},
			},
			DB: pipeline.DBInfo{
				Dir: "/cache/trivy/db", UpdatedAt: time.Date(2025, 6, 1, 6, 0, 0, 0, time.UTC),
				NextUpdate: time.Date(2025, 6, 2, 6, 0, 0, 0, time.UTC), DownloadedAt: time.Date(2025, 6, 1, 7, 0, 0, 0, time.UTC),
			},
			CacheDir: "/cache/trivy", Duration: 12 * time.Second,
		},
		Sign: &pipeline.SignResult{
			Mode: "keyless", Signed: []v1.Hash{hash(digest), hash(amd64), hash(arm64)},
			Artifacts:  []artifact.Attached{{Kind: artifact.Signature, Subject: hash(digest)}, {Kind: artifact.Attestation, Subject: hash(digest)}},
			Signatures: []name.Tag{repo(ghcr).Tag("sha256-1111111111111111111111111111111111111111111111111111111111111111.sig"), repo(quay).Tag("sha256-1111111111111111111111111111111111111111111111111111111111111111.sig")},
			Attestations: []pipeline.Attestation{
				{Type: "cyclonedx", PredicateType: "https://cyclonedx.org/bom", Subject: amd64, Platform: "linux/amd64", Path: ".slipway/sbom-linux-amd64.cdx.json"},
				{Type: "vuln", PredicateType: "https://cosign.sigstore.dev/attestation/vuln/v1", Subject: digest},
			},
			Identity:                 "https://github.com/acme/app/.github/workflows/ci.yml@refs/pull/7/merge (https://token.actions.githubusercontent.com)",
			TlogIndex:                123456789,
			Verified:                 true,
			VerifyCommand:            "cosign verify --certificate-identity=https://github.com/acme/app/.github/workflows/ci.yml@refs/pull/7/merge --certificate-oidc-issuer=https://token.actions.githubusercontent.com " + ghcr + "@" + digest,
			VerifyAttestationCommand: "cosign verify-attestation --type=cyclonedx --certificate-identity=https://github.com/acme/app/.github/workflows/ci.yml@refs/pull/7/merge --certificate-oidc-issuer=https://token.actions.githubusercontent.com " + ghcr + "@" + digest,
		},
		Images: []pipeline.PublishedImage{
			{Repository: repo(ghcr), Ref: repo(ghcr).Digest(digest), Tags: []name.Tag{repo(ghcr).Tag("pr-7"), repo(ghcr).Tag("sha-0123456")}},
			{Repository: repo(quay), Ref: repo(quay).Digest(digest), Tags: []name.Tag{repo(quay).Tag("pr-7"), repo(quay).Tag("sha-0123456")}},
		},
		Warnings: []string{"cache export to type=gha failed: 429 Too Many Requests (the build went on without it)"},
	}
	r.Done = append(r.Done, p.Steps[:len(p.Steps)-1]...)
	return r
}

// failedResult is a run of fixedPlan whose gate failed on a CRITICAL: no
// signature, no tag moved.
func failedResult(p *pipeline.Plan) *pipeline.Result {
	r := fixedResult(p)
	r.Scan.Counts["CRITICAL"] = 1
	r.Scan.Passed = false
	r.Scan.Verdict = "gate failed: 1 CRITICAL"
	r.Scan.Blocking = []pipeline.Finding{critical}
	r.Scan.Findings = []pipeline.Finding{critical, high, medium}
	r.Sign = nil
	r.Images = []pipeline.PublishedImage{{Repository: repo(ghcr), Ref: repo(ghcr).Digest(digest), Tags: []name.Tag{}}}
	r.Warnings = nil
	r.Done = p.Steps[:2]
	r.Failed = &p.Steps[2]
	r.Error = "gate: gate failed: 1 CRITICAL; the digest was left untagged"
	return r
}

// comparedResult is fixedResult compared with the base branch's image,
// from its attestations: the HIGH is new on amd64, a CRITICAL the base
// had is fixed on both platforms, openssl upgraded, a package added, and
// the amd64 image 1 MiB larger with one new layer.
func comparedResult(p *pipeline.Plan) *pipeline.Result {
	r := fixedResult(p)
	old := critical
	old.Installed, old.Platforms = "3.0.0-r0", []string{"linux/amd64", "linux/arm64"}
	newHigh := high
	newHigh.Platforms = []string{"linux/amd64"}
	counts := func(c, h, m int) map[severity.Severity]int {
		return map[severity.Severity]int{"CRITICAL": c, "HIGH": h, "MEDIUM": m, "LOW": 0, "UNKNOWN": 0}
	}
	r.Compare = &pipeline.CompareResult{
		Base: ghcr + ":main", Image: ghcr + "@sha256:" + strings.Repeat("b", 64), Compared: true, Source: pipeline.FromAttestations,
		New: []pipeline.Finding{newHigh}, Fixed: []pipeline.Finding{old}, NewCounts: counts(0, 1, 0), SizeDelta: 1 << 20,
		Platforms: []pipeline.PlatformCompare{
			{
				Platform: "linux/amd64", Digest: amd64, BaseDigest: "sha256:" + strings.Repeat("c", 64),
				New: []pipeline.Finding{high}, Fixed: []pipeline.Finding{old}, Unchanged: 0, Counts: counts(0, 1, 0), BaseCounts: counts(1, 0, 0),
				Packages: pipeline.PackageDiff{
					Added: []pipeline.Package{{Name: "bash", Version: "5.2.15-r0", Type: "apk"}}, Removed: []pipeline.Package{},
					Upgraded: []pipeline.PackageChange{{Name: "openssl", Type: "apk", From: "3.0.0-r0", To: "3.0.1-r0"}}, Downgraded: []pipeline.PackageChange{},
				},
				Size: 3 << 20, BaseSize: 2 << 20, Layers: 3, BaseLayers: 2, NewLayers: []string{"sha256:" + strings.Repeat("d", 64)},
			},
			{
				Platform: "linux/arm64", Digest: arm64, BaseDigest: "sha256:" + strings.Repeat("e", 64),
				New: []pipeline.Finding{}, Fixed: []pipeline.Finding{old}, Unchanged: 1, Counts: counts(0, 0, 1), BaseCounts: counts(1, 0, 1),
				Packages: pipeline.PackageDiff{Added: []pipeline.Package{}, Removed: []pipeline.Package{}, Upgraded: []pipeline.PackageChange{}, Downgraded: []pipeline.PackageChange{}},
				Size:     2<<20 + 512<<10, BaseSize: 2<<20 + 512<<10, Layers: 2, BaseLayers: 2, NewLayers: []string{},
			},
		},
		Duration: 2 * time.Second,
	}
	return r
}

// noBaseResult is fixedResult whose base branch has no image yet.
func noBaseResult(p *pipeline.Plan) *pipeline.Result {
	r := fixedResult(p)
	r.Compare = &pipeline.CompareResult{
		Base: ghcr + ":main", New: []pipeline.Finding{}, Fixed: []pipeline.Finding{}, NewCounts: map[severity.Severity]int{},
		Note: ghcr + ":main does not exist (not published yet?)",
	}
	return r
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdata, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/report -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./internal/report -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// readFile returns the content of path, failing the test when it cannot.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// notify runs n on p and r in a fresh working directory (the output
// directory .slipway is relative to it) and returns the log. It fails the
// test when Notify returns an error.
func notify(t *testing.T, n *Notifier, p *pipeline.Plan, r *pipeline.Result) string {
	t.Helper()
	t.Chdir(t.TempDir())
	var log bytes.Buffer
	n.Log = &log
	if err := n.Notify(context.Background(), p, r); err != nil {
		t.Fatalf("Notify: %v\nlog:\n%s", err, log.String())
	}
	return log.String()
}

func assertContains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// repo and hash parse the fixtures' repositories and digests.
func repo(s string) name.Repository {
	r, err := name.NewRepository(s)
	if err != nil {
		panic(err)
	}
	return r
}

func hash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		panic(err)
	}
	return h
}
