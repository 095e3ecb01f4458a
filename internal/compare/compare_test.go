package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
)

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"3.0.13-1~deb12u1", "3.0.11-1~deb12u1", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0.1", -1},
		{"1.10", "1.9", 1},
		{"1.36.1-r0", "1.36.1-r0", 0},
		{"v0.7.0", "v0.10.0", -1},
		{"2.0a", "2.0.1", -1},
		{"5.2.15-r0", "5.2.15-r1", -1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareVersions(c.b, c.a); got != -c.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestDiffPackages(t *testing.T) {
	base := []pipeline.Package{
		{Name: "openssl", Version: "3.0.11-1~deb12u1", Type: "deb"}, {Name: "zlib", Version: "1.3", Type: "deb"},
		{Name: "curl", Version: "8.0", Type: "deb"}, {Name: "x/net", Version: "v0.7.0", Type: "golang"},
	}
	head := []pipeline.Package{
		{Name: "openssl", Version: "3.0.13-1~deb12u1", Type: "deb"}, {Name: "zlib", Version: "1.3", Type: "deb"},
		{Name: "bash", Version: "5.2", Type: "deb"}, {Name: "x/net", Version: "v0.1.0", Type: "golang"},
		// The same name in another ecosystem is another package.
		{Name: "curl", Version: "8.0", Type: "apk"},
	}
	d := DiffPackages(base, head)
	want := pipeline.PackageDiff{
		Added:      []pipeline.Package{{Name: "bash", Version: "5.2", Type: "deb"}, {Name: "curl", Version: "8.0", Type: "apk"}},
		Removed:    []pipeline.Package{{Name: "curl", Version: "8.0", Type: "deb"}},
		Upgraded:   []pipeline.PackageChange{{Name: "openssl", Type: "deb", From: "3.0.11-1~deb12u1", To: "3.0.13-1~deb12u1"}},
		Downgraded: []pipeline.PackageChange{{Name: "x/net", Type: "golang", From: "v0.7.0", To: "v0.1.0"}},
	}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("DiffPackages:\n%+v\nwant\n%+v", d, want)
	}
}

// requestLog records the paths an in-process registry served.
type requestLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.paths = append(l.paths, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) blobReads(digests []v1.Hash) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, p := range l.paths {
		for _, d := range digests {
			if strings.HasPrefix(p, "GET ") && strings.HasSuffix(p, "/blobs/"+d.String()) {
				out = append(out, p)
			}
		}
	}
	return out
}

// fixture is a base image in a registry (linux/amd64, two layers) and a
// built image in an OCI layout: the base's layers and one more.
type fixture struct {
	log        *requestLog
	repo       name.Repository
	base       name.Digest // the index
	baseImage  v1.Hash     // its amd64 manifest
	baseLayers []v1.Hash
	built      *pipeline.BuildResult
	headSize   int64
	baseSize   int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{log: &requestLog{}}
	srv := httptest.NewServer(f.log.wrap(registry.New()))
	t.Cleanup(srv.Close)
	var err error
	if f.repo, err = name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/acme/app"); err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, _ := l.Digest()
		f.baseLayers = append(f.baseLayers, d)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	if err := remote.WriteIndex(f.repo.Tag("main"), idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	f.base = f.repo.Digest(d.String())
	f.baseImage, _ = img.Digest()
	f.baseSize = manifestSize(t, img)

	extra, err := random.Layer(8192, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	head, err := mutate.AppendLayers(img, extra)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(head); err != nil {
		t.Fatal(err)
	}
	hd, _ := head.Digest()
	f.headSize = manifestSize(t, head)
	f.built = &pipeline.BuildResult{LayoutDir: dir, Platforms: []pipeline.PlatformImage{{Platform: "linux/amd64", Digest: hd}}}
	return f
}

func manifestSize(t *testing.T, img v1.Image) int64 {
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return size(m)
}

var (
	oldFinding  = pipeline.Finding{ID: "CVE-2099-0001", Severity: severity.High, Package: "openssl", Installed: "3.0.11-1~deb12u1", Fixed: "3.0.13-1~deb12u1"}
	keptFinding = pipeline.Finding{ID: "CVE-2099-0003", Severity: severity.Low, Package: "zlib", Installed: "1.3"}
	newFinding  = pipeline.Finding{ID: "CVE-2099-0010", Severity: severity.High, Package: "bash", Installed: "5.2"}
)

// scanned is the built image's scan: the kept and the new finding, an
// SBOM with openssl upgraded and bash added.
func scanned(t *testing.T) *pipeline.ScanResult {
	sbom := filepath.Join(t.TempDir(), "sbom.cdx.json")
	writeSBOM(t, sbom, "openssl@3.0.13-1~deb12u1", "zlib@1.3", "bash@5.2")
	return &pipeline.ScanResult{
		Findings:  []pipeline.Finding{newFinding, keptFinding},
		Platforms: []pipeline.ScanPlatform{{Platform: "linux/amd64"}},
		Reports:   []pipeline.ReportFile{{Format: pipeline.FormatCycloneDX, Platform: "linux/amd64", Path: sbom}},
	}
}

func cyclonedx(pkgs ...string) []byte {
	var comps []map[string]string
	comps = append(comps, map[string]string{"type": "operating-system", "name": "debian", "version": "12.5"})
	for _, p := range pkgs {
		n, v, _ := strings.Cut(p, "@")
		comps = append(comps, map[string]string{"type": "library", "name": n, "version": v, "purl": "pkg:deb/debian/" + n + "@" + v + "?distro=debian-12.5"})
	}
	b, _ := json.Marshal(map[string]any{"bomFormat": "CycloneDX", "components": comps})
	return b
}

func writeSBOM(t *testing.T, path string, pkgs ...string) {
	if err := os.WriteFile(path, cyclonedx(pkgs...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// attestations is the base's attestations as a verified reader returns
// them, or err.
type attestations struct {
	atts  []Attestation
	err   error
	asked []name.Digest
}

func (a *attestations) Attested(_ context.Context, ref name.Digest) ([]Attestation, error) {
	a.asked = append(a.asked, ref)
	return a.atts, a.err
}

// baseAttestations are the vulnerability report (the old and the kept
// finding, under the amd64 image's target) and the SBOM slipway attests.
func baseAttestations(f *fixture) []Attestation {
	vuln := func(fs ...pipeline.Finding) map[string]any {
		var vs []map[string]string
		for _, x := range fs {
			vs = append(vs, map[string]string{"VulnerabilityID": x.ID, "PkgName": x.Package, "InstalledVersion": x.Installed, "FixedVersion": x.Fixed, "Severity": string(x.Severity)})
		}
		return map[string]any{"Target": f.repo.String() + "@" + f.baseImage.String() + " (debian 12.5)", "Vulnerabilities": vs}
	}
	pred, _ := json.Marshal(map[string]any{"scanner": map[string]any{"uri": "pkg:github/aquasecurity/trivy@v0.70.0", "result": map[string]any{"Results": []any{vuln(oldFinding, keptFinding)}}}})
	return []Attestation{
		{PredicateType: VulnPredicateType, Predicate: pred},
		{PredicateType: CycloneDXPredicateType, Predicate: cyclonedx("openssl@3.0.11-1~deb12u1", "zlib@1.3", "curl@8.0"), Platform: "linux/amd64"},
	}
}

// remoteScan records the remote scans asked of it.
type remoteScan struct {
	result *pipeline.ScanResult
	asked  []string
}

func (r *remoteScan) ScanRemote(_ context.Context, _ *pipeline.ScanPlan, ref string, _ []string) (*pipeline.ScanResult, error) {
	r.asked = append(r.asked, ref)
	if r.result == nil {
		return nil, errors.New("no scan")
	}
	return r.result, nil
}

// The attestation path: the base by tag, its manifests and attestations
// read, none of its layers; new, fixed and unchanged findings, packages,
// size and layers per platform.
func TestCompareFromAttestations(t *testing.T) {
	f := newFixture(t)
	atts := &attestations{atts: baseAttestations(f)}
	remote := &remoteScan{}
	s := &Stage{Attestations: atts, Remote: remote}
	res, err := s.Compare(context.Background(), &pipeline.ComparePlan{Enabled: true, Base: f.repo.Tag("main")}, &pipeline.ScanPlan{}, f.built, scanned(t))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Compared || res.Source != pipeline.FromAttestations || res.Image != f.base.String() {
		t.Fatalf("compared %v from %q of %q (%s), want attestations of %s", res.Compared, res.Source, res.Image, res.Note, f.base)
	}
	if len(atts.asked) != 1 || atts.asked[0] != f.base || len(remote.asked) != 0 {
		t.Errorf("attestations asked of %v, remote scans %v", atts.asked, remote.asked)
	}
	if len(res.Platforms) != 1 {
		t.Fatalf("platforms %+v", res.Platforms)
	}
	pc := res.Platforms[0]
	if len(pc.New) != 1 || !pc.New[0].SameAs(newFinding) || len(pc.Fixed) != 1 || !pc.Fixed[0].SameAs(oldFinding) || pc.Unchanged != 1 {
		t.Errorf("new %+v, fixed %+v, unchanged %d", pc.New, pc.Fixed, pc.Unchanged)
	}
	if pc.Counts[severity.High] != 1 || pc.BaseCounts[severity.High] != 1 || pc.BaseCounts[severity.Low] != 1 {
		t.Errorf("counts %v, base %v", pc.Counts, pc.BaseCounts)
	}
	if res.NewCounts[severity.High] != 1 || len(res.Fixed) != 1 || !slices.Equal(res.New[0].Platforms, []string{"linux/amd64"}) {
		t.Errorf("new counts %v, fixed %+v, new %+v", res.NewCounts, res.Fixed, res.New)
	}
	p := pc.Packages
	if fmt.Sprint(p.Added) != "[{bash 5.2 deb}]" || fmt.Sprint(p.Removed) != "[{curl 8.0 deb}]" || len(p.Upgraded) != 1 || p.Upgraded[0].Name != "openssl" || len(p.Downgraded) != 0 {
		t.Errorf("packages %+v", p)
	}
	if pc.Size != f.headSize || pc.BaseSize != f.baseSize || res.SizeDelta != f.headSize-f.baseSize || pc.Layers != 3 || pc.BaseLayers != 2 || len(pc.NewLayers) != 1 {
		t.Errorf("size %d (base %d, delta %d), layers %d (base %d, new %v); want %d and %d", pc.Size, pc.BaseSize, res.SizeDelta, pc.Layers, pc.BaseLayers, pc.NewLayers, f.headSize, f.baseSize)
	}
	if reads := f.log.blobReads(f.baseLayers); len(reads) > 0 {
		t.Errorf("the comparison read the base's layers: %q", reads)
	}
}

// A base someone else attested is scanned remotely, and the result says
// why; a base without attestations too.
func TestCompareRemoteScan(t *testing.T) {
	for name, atts := range map[string]*attestations{
		"other key": {err: fmt.Errorf("%w: invalid signature", ErrNotSigned)},
		"none":      {},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			sbom := filepath.Join(t.TempDir(), "sbom.cdx.json")
			writeSBOM(t, sbom, "openssl@3.0.11-1~deb12u1", "zlib@1.3")
			remote := &remoteScan{result: &pipeline.ScanResult{
				Findings: []pipeline.Finding{oldFinding, keptFinding}, Platforms: []pipeline.ScanPlatform{{Platform: "linux/amd64"}},
				Reports: []pipeline.ReportFile{{Format: pipeline.FormatCycloneDX, Path: sbom}},
			}}
			s := &Stage{Attestations: atts, Remote: remote}
			res, err := s.Compare(context.Background(), &pipeline.ComparePlan{Enabled: true, Base: f.repo.Tag("main")}, &pipeline.ScanPlan{}, f.built, scanned(t))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Compared || res.Source != pipeline.FromRemoteScan || !slices.Equal(remote.asked, []string{f.base.String()}) {
				t.Fatalf("compared %v from %q (%s), remote scans %v", res.Compared, res.Source, res.Note, remote.asked)
			}
			want := map[string]string{"other key": "not signed by this run's key", "none": "has no slipway attestations"}[name]
			if !strings.Contains(res.Note, want) {
				t.Errorf("note %q, want it to say %q", res.Note, want)
			}
			if len(res.New) != 1 || len(res.Fixed) != 1 || len(res.Platforms[0].Packages.Added) != 1 {
				t.Errorf("new %+v, fixed %+v, packages %+v", res.New, res.Fixed, res.Platforms[0].Packages)
			}
		})
	}
}

// A base that is not there is no failure: the result says so.
func TestCompareMissingBase(t *testing.T) {
	f := newFixture(t)
	s := &Stage{Attestations: &attestations{}, Remote: &remoteScan{}}
	res, err := s.Compare(context.Background(), &pipeline.ComparePlan{Enabled: true, Base: f.repo.Tag("develop")}, &pipeline.ScanPlan{}, f.built, scanned(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Compared || !strings.Contains(res.Note, "does not exist") {
		t.Errorf("compared %v, note %q", res.Compared, res.Note)
	}
}

// A platform the base lacks: its findings are all new, its size all
// added.
func TestCompareNewPlatform(t *testing.T) {
	f := newFixture(t)
	arm, err := random.Image(2048, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(f.built.LayoutDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(arm); err != nil {
		t.Fatal(err)
	}
	ad, _ := arm.Digest()
	f.built.Platforms = append(f.built.Platforms, pipeline.PlatformImage{Platform: "linux/arm64", Digest: ad})
	sc := scanned(t)
	sc.Platforms = append(sc.Platforms, pipeline.ScanPlatform{Platform: "linux/arm64"})
	armOnly := keptFinding
	armOnly.Platforms = []string{"linux/arm64"}
	sc.Findings = append(sc.Findings, armOnly)
	for i := range sc.Findings[:2] {
		sc.Findings[i].Platforms = []string{"linux/amd64"}
	}
	s := &Stage{Attestations: &attestations{atts: baseAttestations(f)}, Remote: &remoteScan{}}
	res, err := s.Compare(context.Background(), &pipeline.ComparePlan{Enabled: true, Base: f.repo.Tag("main")}, &pipeline.ScanPlan{}, f.built, sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Platforms) != 2 || !res.Platforms[1].Missing || len(res.Platforms[1].New) != 1 {
		t.Fatalf("platforms %+v", res.Platforms)
	}
	armSize := manifestSize(t, arm)
	if res.SizeDelta != f.headSize-f.baseSize+armSize {
		t.Errorf("size delta %d, want %d", res.SizeDelta, f.headSize-f.baseSize+armSize)
	}
	// The kept finding is unchanged on amd64 and new on arm64.
	i := slices.IndexFunc(res.New, keptFinding.SameAs)
	if i < 0 || !slices.Equal(res.New[i].Platforms, []string{"linux/arm64"}) {
		t.Errorf("new %+v, want the kept finding new on linux/arm64", res.New)
	}
}
