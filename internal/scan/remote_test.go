package scan

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestScanRemote scans, by digest, an image index that only a registry
// (an in-process one on 127.0.0.1) holds, with Trivy's remote source.
func TestScanRemote(t *testing.T) {
	host := testenv.StartReferrersRegistry(t)

	var adds []mutate.IndexAddendum
	digests := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := fixture.DemoAlpineImage(arch)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests["linux/"+arch] = d.String()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex), adds...)
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	repo := host + "/slipway/app"
	ref, err := name.ParseReference(repo + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t)
	e.stage.Transport = nil // the registry is on this machine
	r, err := e.stage.ScanRemote(context.Background(), e.plan("CRITICAL"), ref.String(), []string{"linux/amd64", "linux/arm64"})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log)
	}
	if len(r.Platforms) != 2 {
		t.Fatalf("platforms: %+v", r.Platforms)
	}
	for _, p := range r.Platforms {
		if p.Digest != digests[p.Platform] || p.Artifact != repo+"@"+p.Digest {
			t.Errorf("platform %+v, want digest %s", p, digests[p.Platform])
		}
	}
	f := findFinding(r.Findings, "SLIPWAY-DEMO-0101", "busybox")
	if f == nil || !slices.Equal(f.Platforms, []string{"linux/amd64", "linux/arm64"}) || r.Passed {
		t.Errorf("busybox finding %+v, passed %v: %s", f, r.Passed, r.Verdict)
	}
}
