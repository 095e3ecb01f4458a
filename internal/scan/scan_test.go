package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/severity"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// now is the tests' clock: the fixture DB is written at it, ignore-file
// expiry is judged at it.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// unreachableRepo is a DB repository nothing answers at, on this machine.
const unreachableRepo = "127.0.0.1:1/none"

// recorder is an HTTP transport that records and refuses every request:
// a scan that should stay offline must leave it empty.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.String())
	return nil, errors.New("offline test: no request may leave the scan")
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// testAdvisories are the demo advisories plus one CVE-shaped one, so that
// identifiers carry Trivy's primary URL.
func testAdvisories() []fixture.Advisory {
	return append(fixture.DemoAdvisories(), fixture.Advisory{
		ID: "CVE-2099-0001", OS: fixture.OSDebian, Release: "12", Package: "bash",
		Fixed: "5.2.15-3", Severity: "MEDIUM",
		Title: "bash: test-only advisory", Description: "A made-up advisory of slipway's scan tests.",
	})
}

type env struct {
	cacheDir string
	out      string
	log      *bytes.Buffer
	rec      *recorder
	stage    *Stage
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{cacheDir: t.TempDir(), out: t.TempDir(), log: &bytes.Buffer{}, rec: &recorder{}}
	if err := fixture.WriteDB(e.cacheDir, testAdvisories(), now); err != nil {
		t.Fatal(err)
	}
	e.stage = &Stage{OutputDir: e.out, Log: e.log, Transport: e.rec, Now: func() time.Time { return now }, ImageName: "registry.example/slipway/app"}
	return e
}

func (e *env) plan(names ...string) *pipeline.ScanPlan {
	sevs := make([]severity.Severity, len(names))
	for i, n := range names {
		sevs[i] = severity.Severity(n) // unchecked: the stage checks again
	}
	return &pipeline.ScanPlan{
		Enabled: true, Severity: sevs, Fail: true,
		CacheDir: e.cacheDir, DBRepository: []string{unreachableRepo}, SkipDBUpdate: true,
	}
}

// writeLayout writes an OCI layout holding imgs (platform → image): a
// single image at the top of index.json, or an image index of them, as
// BuildKit leaves its result. It returns the build result naming it.
func writeLayout(t testing.TB, imgs map[string]v1.Image) *pipeline.BuildResult {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	plats := slices.Sorted(maps.Keys(imgs))
	built := &pipeline.BuildResult{LayoutDir: dir}
	var adds []mutate.IndexAddendum
	for _, plat := range plats {
		img := imgs[plat]
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		sz, err := img.Size()
		if err != nil {
			t.Fatal(err)
		}
		pl, err := v1.ParsePlatform(plat)
		if err != nil {
			t.Fatal(err)
		}
		built.Platforms = append(built.Platforms, pipeline.PlatformImage{Platform: plat, Digest: d, Size: sz})
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	if len(imgs) == 1 {
		img := imgs[plats[0]]
		if err := p.AppendImage(img); err != nil {
			t.Fatal(err)
		}
		built.Digest = built.Platforms[0].Digest
		return built
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex), adds...)
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	built.Digest = d
	return built
}

func debianBuild(t testing.TB) *pipeline.BuildResult {
	t.Helper()
	img, err := fixture.DemoDebianImage("amd64")
	if err != nil {
		t.Fatal(err)
	}
	return writeLayout(t, map[string]v1.Image{"linux/amd64": img})
}

func scanOK(t *testing.T, e *env, p *pipeline.ScanPlan, built *pipeline.BuildResult) *Result {
	t.Helper()
	r, err := e.stage.Scan(context.Background(), p, built)
	if err != nil {
		t.Fatalf("scan: %v\nlog:\n%s", err, e.log)
	}
	if reqs := e.rec.requests(); len(reqs) > 0 {
		t.Fatalf("the scan made HTTP requests: %v", reqs)
	}
	return r
}

func findFinding(fs []Finding, id, pkg string) *Finding {
	for i := range fs {
		if fs[i].ID == id && fs[i].Package == pkg {
			return &fs[i]
		}
	}
	return nil
}

func TestScanFindsTheKnownVulnerability(t *testing.T) {
	e := newEnv(t)
	r := scanOK(t, e, e.plan("HIGH"), debianBuild(t))

	f := findFinding(r.Findings, "SLIPWAY-DEMO-0001", "libssl3")
	if f == nil {
		t.Fatalf("SLIPWAY-DEMO-0001 in libssl3 not found; findings: %+v", r.Findings)
	}
	if f.Severity != "HIGH" || f.Installed != "3.0.16-1~deb12u1" || f.Fixed != "3.0.17-1~deb12u1" {
		t.Errorf("finding = %+v, want HIGH, 3.0.16-1~deb12u1 fixed in 3.0.17-1~deb12u1", f)
	}
	wantCounts := map[severity.Severity]int{"CRITICAL": 1, "HIGH": 2, "MEDIUM": 2, "LOW": 0, "UNKNOWN": 0}
	if !maps.Equal(r.Counts, wantCounts) {
		t.Errorf("counts = %v, want %v", r.Counts, wantCounts)
	}
	if findFinding(r.Findings, "SLIPWAY-DEMO-0004", "bash") != nil {
		t.Errorf("SLIPWAY-DEMO-0004 is fixed in an older bash than the installed one, yet reported")
	}
	if r.Passed {
		t.Errorf("the gate passed at HIGH: %s", r.Verdict)
	}
	for _, want := range []string{"gate failed: 2 HIGH (threshold HIGH)", "worst: SLIPWAY-DEMO-0001 (HIGH) in libssl3 3.0.16-1~deb12u1, openssl 3.0.16-1~deb12u1 (fixed in 3.0.17-1~deb12u1)"} {
		if !strings.Contains(r.Verdict, want) {
			t.Errorf("verdict %q does not say %q", r.Verdict, want)
		}
	}
	if len(r.Platforms) != 1 || r.Platforms[0].Platform != "linux/amd64" || r.Platforms[0].OS != "debian 12.11" || r.Platforms[0].Packages != 6 {
		t.Errorf("platforms = %+v", r.Platforms)
	}
	// The table on Log is limited to the threshold.
	log := e.log.String()
	if !strings.Contains(log, "SLIPWAY-DEMO-0001") || strings.Contains(log, "SLIPWAY-DEMO-0003") {
		t.Errorf("the table should list the HIGH finding and not the MEDIUM one:\n%s", log)
	}
	for _, name := range []string{JSONReport, SARIFReport, GitLabFile, SBOMFile} {
		if _, err := os.Stat(filepath.Join(e.out, name)); err != nil {
			t.Errorf("report %s: %v", name, err)
		}
	}
}

func TestGate(t *testing.T) {
	built := debianBuild(t)
	write := func(t *testing.T, name, content string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name          string
		severity      []string
		ignoreFile    string // name, content
		content       string
		ignoreUnfixed bool
		pass          bool
		verdict       string
	}{
		{name: "fails at HIGH", severity: []string{"HIGH"}, verdict: "gate failed: 2 HIGH"},
		{name: "trivyignore entry", severity: []string{"HIGH"}, ignoreFile: ".trivyignore",
			content: "# accepted until the next base image\nSLIPWAY-DEMO-0001\n", pass: true, verdict: "2 ignored by"},
		{name: "trivyignore entry not yet expired", severity: []string{"HIGH"}, ignoreFile: ".trivyignore",
			content: "SLIPWAY-DEMO-0001 exp:2026-12-31\n", pass: true},
		{name: "trivyignore entry expired", severity: []string{"HIGH"}, ignoreFile: ".trivyignore",
			content: "SLIPWAY-DEMO-0001 exp:2026-05-31\n", verdict: "gate failed: 2 HIGH"},
		{name: "trivyignore.yaml entry", severity: []string{"HIGH"}, ignoreFile: ".trivyignore.yaml",
			content: "vulnerabilities:\n  - id: SLIPWAY-DEMO-0001\n    statement: accepted\n    expired_at: 2026-12-31\n", pass: true},
		{name: "trivyignore.yaml entry expired", severity: []string{"HIGH"}, ignoreFile: ".trivyignore.yaml",
			content: "vulnerabilities:\n  - id: SLIPWAY-DEMO-0001\n    expired_at: 2026-05-01\n", verdict: "gate failed: 2 HIGH"},
		{name: "trivyignore.yaml entry for one package", severity: []string{"HIGH"}, ignoreFile: ".trivyignore.yaml",
			content: "vulnerabilities:\n  - id: SLIPWAY-DEMO-0001\n    purls: [\"pkg:deb/debian/openssl@3.0.16-1~deb12u1?arch=amd64&distro=debian-12.11\"]\n",
			verdict: "gate failed: 1 HIGH"},
		{name: "no fix fails at CRITICAL", severity: []string{"CRITICAL"}, verdict: "gate failed: 1 CRITICAL (threshold CRITICAL); worst: SLIPWAY-DEMO-0002 (CRITICAL) in zlib1g 1:1.2.13.dfsg-1 (no fix yet)"},
		{name: "ignore-unfixed passes when no fix exists", severity: []string{"CRITICAL"}, ignoreUnfixed: true, pass: true,
			verdict: "1 without a fix left out (ignore-unfixed)"},
		{name: "ignore-unfixed keeps fixable findings", severity: []string{"CRITICAL", "HIGH"}, ignoreUnfixed: true,
			verdict: "gate failed: 2 HIGH (threshold CRITICAL,HIGH)"},
		{name: "default threshold", verdict: "gate failed: 1 CRITICAL, 2 HIGH (threshold CRITICAL,HIGH)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.plan(tc.severity...)
			p.IgnoreUnfixed = tc.ignoreUnfixed
			if tc.ignoreFile != "" {
				p.TrivyIgnores = []string{write(t, tc.ignoreFile, tc.content)}
			}
			r := scanOK(t, e, p, built)
			if r.Passed != tc.pass {
				t.Errorf("passed = %v, want %v: %s", r.Passed, tc.pass, r.Verdict)
			}
			if !strings.Contains(r.Verdict, tc.verdict) {
				t.Errorf("verdict %q does not say %q", r.Verdict, tc.verdict)
			}
			if tc.pass && !strings.HasPrefix(r.Verdict, "gate passed: ") {
				t.Errorf("verdict %q", r.Verdict)
			}
		})
	}
}

func TestPolicyInputErrors(t *testing.T) {
	e := newEnv(t)
	built := debianBuild(t)
	p := e.plan("HIGH", "SEVERE")
	_, err := e.stage.Scan(context.Background(), p, built)
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "severity" {
		t.Errorf("bad severity: err = %v, want an input error on severity", err)
	}
	p = e.plan("HIGH")
	p.TrivyIgnores = []string{filepath.Join(t.TempDir(), ".trivyignore")}
	_, err = e.stage.Scan(context.Background(), p, built)
	if !errors.As(err, &ie) || ie.Input != "trivyignores" {
		t.Errorf("missing ignore file: err = %v, want an input error on trivyignores", err)
	}
}

func TestMissingDBNamesTheInputs(t *testing.T) {
	built := debianBuild(t)
	for _, tc := range []struct {
		name string
		skip bool
	}{
		{"skip-db-update with an empty cache", true},
		{"download from an unreachable repository", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			s := &Stage{OutputDir: t.TempDir(), Log: &bytes.Buffer{}}
			p := &pipeline.ScanPlan{Enabled: true, CacheDir: cacheDir, DBRepository: []string{unreachableRepo}, SkipDBUpdate: tc.skip}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := s.Scan(ctx, p, built)
			if !errors.Is(err, ErrNoDB) {
				t.Fatalf("err = %v, want ErrNoDB", err)
			}
			msg := err.Error()
			for _, want := range []string{"scan-cache-dir " + cacheDir, "scan-db-repository", "scan-skip-db-update", unreachableRepo} {
				if !strings.Contains(msg, want) {
					t.Errorf("the error does not name %q: %s", want, msg)
				}
			}
			t.Log(msg)
		})
	}
}

// A fresh DB in the cache is used as it is, even when updates are on:
// nothing is downloaded.
func TestFreshDBIsReused(t *testing.T) {
	e := newEnv(t)
	p := e.plan("HIGH")
	p.SkipDBUpdate = false
	r := scanOK(t, e, p, debianBuild(t))
	if r.DB.Downloaded || !r.DB.UpdatedAt.Equal(now) {
		t.Errorf("DB = %+v, want the cached fixture DB, not downloaded", r.DB)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	got, err := DefaultCacheDir("/runner/tmp")
	if err != nil || got != filepath.Join("/runner/tmp", "slipway-trivy") {
		t.Errorf("DefaultCacheDir(RUNNER_TEMP) = %q, %v", got, err)
	}
	got, err = DefaultCacheDir("")
	if err != nil || !strings.HasSuffix(got, filepath.Join("slipway", "trivy")) {
		t.Errorf("DefaultCacheDir() = %q, %v", got, err)
	}
	if want := []string{"mirror.gcr.io/aquasec/trivy-db:2", "ghcr.io/aquasecurity/trivy-db:2"}; !slices.Equal(DefaultDBRepositories(), want) {
		t.Errorf("DefaultDBRepositories() = %v, want %v", DefaultDBRepositories(), want)
	}
}

func TestMultiPlatformLayout(t *testing.T) {
	// musl is fixed on amd64 only: its finding must come from arm64 alone.
	pkgs := func(musl string) []fixture.Package {
		var out []fixture.Package
		for _, p := range fixture.DemoAlpinePackages() {
			if p.Name == "musl" {
				p.Version = musl
			}
			out = append(out, p)
		}
		return out
	}
	amd, err := fixture.AlpineImage(fixture.DemoAlpineRelease, "amd64", pkgs("1.2.5-r11"))
	if err != nil {
		t.Fatal(err)
	}
	arm, err := fixture.AlpineImage(fixture.DemoAlpineRelease, "arm64", pkgs("1.2.5-r10"))
	if err != nil {
		t.Fatal(err)
	}
	built := writeLayout(t, map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm})

	for _, tc := range []struct {
		name  string
		built pipeline.BuildResult
	}{
		{"platforms of the build", *built},
		// Without the platform list, every image of the index is found.
		{"platforms from the index", pipeline.BuildResult{LayoutDir: filepath.Dir(built.LayoutDir), Digest: built.Digest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := scanOK(t, e, e.plan("HIGH"), &tc.built)
			if len(r.Platforms) != 2 {
				t.Fatalf("platforms = %+v", r.Platforms)
			}
			for i, want := range built.Platforms {
				got := r.Platforms[i]
				if got.Platform != want.Platform || got.Digest != want.Digest.String() || got.OS != "alpine 3.22.1" {
					t.Errorf("platform %d = %+v, want %s %s", i, got, want.Platform, want.Digest)
				}
				if want := "registry.example/slipway/app@" + want.Digest.String(); got.Artifact != want {
					t.Errorf("artifact = %q, want %q", got.Artifact, want)
				}
			}
			musl := findFinding(r.Findings, "SLIPWAY-DEMO-0102", "musl")
			if musl == nil || !slices.Equal(musl.Platforms, []string{"linux/arm64"}) {
				t.Errorf("musl finding = %+v, want it on linux/arm64 only", musl)
			}
			busybox := findFinding(r.Findings, "SLIPWAY-DEMO-0101", "busybox")
			if busybox == nil || !slices.Equal(busybox.Platforms, []string{"linux/amd64", "linux/arm64"}) {
				t.Errorf("busybox finding = %+v, want it on both platforms", busybox)
			}
			// Counted once over the platforms.
			if r.Counts["CRITICAL"] != 2 || r.Counts["HIGH"] != 1 {
				t.Errorf("counts = %v", r.Counts)
			}
			if r.Platforms[0].Counts["HIGH"] != 0 || r.Platforms[1].Counts["HIGH"] != 1 {
				t.Errorf("per-platform counts: %+v", r.Platforms)
			}
			var names []string
			for _, f := range r.Reports {
				names = append(names, filepath.Base(f.Path))
			}
			for _, want := range []string{JSONReport, SARIFReport, GitLabFile,
				"trivy-report-linux-amd64.json", "trivy-report-linux-arm64.json",
				"sbom-linux-amd64.cdx.json", "sbom-linux-arm64.cdx.json"} {
				if !slices.Contains(names, want) {
					t.Errorf("no %s among the reports %v", want, names)
				}
			}
			// The combined report has both platform images as targets.
			var combined struct {
				Results []struct{ Target string }
			}
			testenv.ReadJSON(t, filepath.Join(e.out, JSONReport), &combined)
			var targets []string
			for _, res := range combined.Results {
				targets = append(targets, res.Target)
			}
			for _, pi := range built.Platforms {
				want := fmt.Sprintf("registry.example/slipway/app@%s (alpine 3.22.1)", pi.Digest)
				if !slices.Contains(targets, want) {
					t.Errorf("combined targets %v lack %q", targets, want)
				}
			}
			var gl GitLabReport
			testenv.ReadJSON(t, filepath.Join(e.out, GitLabFile), &gl)
			images := map[string]bool{}
			for _, v := range gl.Vulnerabilities {
				images[v.Location.Image] = true
			}
			if len(images) != 2 {
				t.Errorf("GitLab report images = %v, want both platform images", images)
			}
		})
	}
}

func TestSBOMListsEveryPackage(t *testing.T) {
	e := newEnv(t)
	scanOK(t, e, e.plan("HIGH"), debianBuild(t))
	var bom struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Type    string `json:"type"`
		} `json:"components"`
		Vulnerabilities []any `json:"vulnerabilities"`
	}
	testenv.ReadJSON(t, filepath.Join(e.out, SBOMFile), &bom)
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion == "" {
		t.Errorf("not a CycloneDX BOM: %q %q", bom.BOMFormat, bom.SpecVersion)
	}
	var got []string
	for _, c := range bom.Components {
		if c.Type == "library" {
			got = append(got, c.Name+" "+c.Version)
		}
	}
	for _, p := range fixture.DemoDebianPackages() {
		if !slices.Contains(got, p.Name+" "+p.Version) {
			t.Errorf("SBOM lacks %s %s; components: %v", p.Name, p.Version, got)
		}
	}
	if len(bom.Vulnerabilities) != 0 {
		t.Errorf("the SBOM carries %d vulnerabilities, want none", len(bom.Vulnerabilities))
	}
}

// linkedTrivy must be the Trivy version go.mod requires.
func TestLinkedTrivyIsGoMods(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	req := regexp.MustCompile(`(?m)^\s*github\.com/aquasecurity/trivy (v\S+)`).FindSubmatch(b)
	if req == nil || string(req[1]) != "v"+linkedTrivy {
		t.Errorf("go.mod requires Trivy %s, linkedTrivy is %s: keep them in step", req, linkedTrivy)
	}
}

func TestWorst(t *testing.T) {
	fs := []Finding{
		{ID: "CVE-1", Severity: "CRITICAL", Package: "a", Installed: "1", Fixed: "2"},
		{ID: "CVE-1", Severity: "CRITICAL", Package: "b", Installed: "1"},
		{ID: "CVE-2", Severity: "HIGH", Package: "c", Installed: "3", Fixed: "4"},
		{ID: "CVE-3", Severity: "HIGH", Package: "d", Installed: "5"},
		{ID: "CVE-4", Severity: "HIGH", Package: "e", Installed: "6"},
	}
	want := "CVE-1 (CRITICAL) in a 1 (fixed in 2), b 1 (no fix yet); CVE-2 (HIGH) in c 3 (fixed in 4); CVE-3 (HIGH) in d 5 (no fix yet); and 1 more"
	if got := worst(fs, 3); got != want {
		t.Errorf("worst = %q\nwant    %q", got, want)
	}
}
