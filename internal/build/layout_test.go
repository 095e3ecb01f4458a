package build

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/ocilayout"
)

func TestPlatformImages(t *testing.T) {
	amd64, _ := random.Image(100, 2)
	att, _ := random.Image(10, 1)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Annotations: map[string]string{ocilayout.AttestationRefType: "attestation-manifest"}}},
	)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	dgst, _ := idx.Digest()
	got, err := platformImages(dir, dgst)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := amd64.Manifest()
	size := m.Config.Size + m.Layers[0].Size + m.Layers[1].Size
	d, _ := amd64.Digest()
	if len(got) != 1 || got[0].Platform != "linux/amd64" || got[0].Digest != d || got[0].Config != m.Config.Digest || got[0].Size != size {
		t.Errorf("platformImages = %+v, want linux/amd64 %s of %d bytes", got, d, size)
	}
	if _, err := platformImages(dir, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}); err == nil || !strings.Contains(err.Error(), "build result") {
		t.Errorf("unknown digest: err = %v", err)
	}
}
