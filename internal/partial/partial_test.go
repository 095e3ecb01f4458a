package partial

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// pushImage pushes a random image to repo and returns what a one-platform
// build of it would have.
func pushImage(t *testing.T, repo name.Repository, platform string) *pipeline.BuildResult {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(d.String()), img); err != nil {
		t.Fatal(err)
	}
	return &pipeline.BuildResult{Digest: d, Platforms: []pipeline.PlatformImage{{Platform: platform, Digest: d}}}
}

// A partial run's record goes up as a referrer of its platform image, on
// a registry with the Referrers API and on one without (docker-registry
// 2.8: the referrers tag); read back by its digest for that manifest, it
// gives the scan and its reports; for another manifest, or under another
// record's digest, it is refused.
func TestRecordAndRead(t *testing.T) {
	ctx := context.Background()
	env := testenv.Get(t)
	for i, host := range []string{testenv.StartReferrersRegistry(t), env.Registry} {
		repo, err := name.NewRepository(fmt.Sprintf("%s/partial/record-%d-%d", host, os.Getpid(), i), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		arm := pushImage(t, repo, "linux/arm64")
		amd := pushImage(t, repo, "linux/amd64")
		sbom := filepath.Join(t.TempDir(), "sbom-linux-arm64.cdx.json")
		if err := os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		scanned := &pipeline.ScanResult{
			Counts:   map[severity.Severity]int{severity.High: 1},
			Scanner:  "trivy 0.74.0",
			Findings: []pipeline.Finding{{ID: "CVE-2024-0001", Severity: severity.High, Package: "libfoo", Installed: "1.0", Platforms: []string{"linux/arm64"}}},
			Reports:  []pipeline.ReportFile{{Format: "cyclonedx", Platform: "linux/arm64", Path: sbom}},
		}
		rec := &Recorder{Keychain: authn.DefaultKeychain, RunURL: "https://ci.example/jobs/7"}
		res, err := rec.Record(ctx, repo, arm, scanned)
		if err != nil {
			t.Fatal(err)
		}
		if res.Platform != "linux/arm64" || res.Manifest != arm.Digest || res.Record.Context() != repo {
			t.Fatalf("partial result %+v", res)
		}
		if want := "linux/arm64 " + arm.Digest.String() + " " + res.Record.DigestStr(); res.Line() != want {
			t.Errorf("line %q, want %q", res.Line(), want)
		}
		idx, err := remote.Referrers(repo.Digest(arm.Digest.String()), remote.WithFilter("artifactType", ArtifactType))
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := idx.IndexManifest(); len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != res.Record.DigestStr() {
			t.Errorf("%s: the image's record referrers: %+v", host, m)
		}

		got, layers, err := Read(ctx, res.Record, arm.Digest, authn.DefaultKeychain, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Platform != "linux/arm64" || got.RunURL != "https://ci.example/jobs/7" || got.Scan == nil || got.Scan.Counts[severity.High] != 1 ||
			len(got.Scan.Findings) != 1 || got.Scan.Findings[0].ID != "CVE-2024-0001" {
			t.Errorf("record read back: %+v", got)
		}
		if string(layers["sbom-linux-arm64.cdx.json"]) != `{"bomFormat":"CycloneDX"}` {
			t.Errorf("report layers: %q", layers)
		}

		// The line names another manifest: refused.
		if _, _, err := Read(ctx, res.Record, amd.Digest, authn.DefaultKeychain, nil); err == nil || !strings.Contains(err.Error(), "is not of "+amd.Digest.String()) {
			t.Errorf("a record read for another manifest: %v", err)
		}
		// Another record's digest (the amd64 one, clean) for the arm64
		// manifest: refused.
		other, err := rec.Record(ctx, repo, amd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Read(ctx, other.Record, arm.Digest, authn.DefaultKeychain, nil); err == nil {
			t.Error("another manifest's record was read as the arm64 one's")
		}
		// A digest that is no record: refused.
		if _, _, err := Read(ctx, repo.Digest(arm.Digest.String()), arm.Digest, authn.DefaultKeychain, nil); err == nil || !strings.Contains(err.Error(), "not a slipway partial record") {
			t.Errorf("the image read as a record: %v", err)
		}
	}
}
