package ocilayout

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fixture is a layout as BuildKit leaves it: index.json holds a build
// index (two platform images, an attestation manifest marked by the
// annotation and one by the unknown/unknown platform, and a nested index
// of one more platform image) and a lone image.
type fixture struct {
	dir                  string
	build, nested        v1.ImageIndex
	amd64, arm64, s390x  v1.Image
	attestation, unknown v1.Image
	lone                 v1.Image
}

func writeFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{
		amd64: randomImage(t), arm64: randomImage(t), s390x: randomImage(t),
		attestation: randomImage(t), unknown: randomImage(t), lone: randomImage(t),
	}
	f.nested = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: f.s390x, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}})
	f.build = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: f.amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: f.arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: f.attestation, Descriptor: v1.Descriptor{Annotations: map[string]string{
			AttestationRefType:            "attestation-manifest",
			"vnd.docker.reference.digest": digestOf(t, f.amd64).String(),
		}}},
		mutate.IndexAddendum{Add: f.unknown, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
		mutate.IndexAddendum{Add: f.nested},
	)
	f.dir = t.TempDir()
	p, err := layout.Write(f.dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(f.build); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(f.lone); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestOpenMissingLayout(t *testing.T) {
	dir := t.TempDir() + "/nope"
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "opening the OCI layout "+dir) {
		t.Fatalf("err = %v, want one naming the layout", err)
	}
}

func TestResolve(t *testing.T) {
	f := writeFixture(t)
	l, err := Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		want  v1.Hash
		index bool
	}{
		{"top-level index", digestOf(t, f.build), true},
		{"nested index", digestOf(t, f.nested), true},
		{"top-level image", digestOf(t, f.lone), false},
		{"platform image of an index", digestOf(t, f.arm64), false},
		{"image of a nested index", digestOf(t, f.s390x), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Resolve(tc.want.String())
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != tc.want {
				t.Errorf("Digest = %s, want %s", got.Digest, tc.want)
			}
			if (got.Index != nil) != tc.index || (got.Image != nil) == tc.index {
				t.Fatalf("Index %v, Image %v; want index: %v", got.Index != nil, got.Image != nil, tc.index)
			}
			var d v1.Hash
			if tc.index {
				d = digestOf(t, got.Index)
			} else {
				d = digestOf(t, got.Image)
			}
			if d != tc.want {
				t.Errorf("resolved %s, want %s", d, tc.want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	f := writeFixture(t)
	l, err := Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Resolve("sha256:nope"); err == nil || !strings.Contains(err.Error(), `digest "sha256:nope"`) {
		t.Errorf("bad digest: err = %v", err)
	}
	missing := digestOf(t, randomImage(t)).String()
	_, err = l.Resolve(missing)
	if err == nil {
		t.Fatal("resolved a digest the layout does not hold")
	}
	msg := err.Error()
	for _, want := range []string{"finding " + missing + " in the OCI layout " + f.dir, "no image index " + missing, "no image manifest " + missing} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Errorf("the error does not join both lookups: %#v", err)
	}
}

func TestPlatforms(t *testing.T) {
	f := writeFixture(t)
	got, err := Platforms(f.build)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		platform string
		img      v1.Image
	}{
		{"linux/amd64", f.amd64},
		{"linux/arm64/v8", f.arm64},
		{"linux/s390x", f.s390x},
	}
	if len(got) != len(want) {
		t.Fatalf("%d platform images, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Platform == nil || g.Platform.String() != w.platform {
			t.Errorf("[%d] platform %v, want %s", i, g.Platform, w.platform)
		}
		if d := digestOf(t, w.img); g.Digest != d || digestOf(t, g.Image) != d {
			t.Errorf("[%d] digest %s (image %s), want %s", i, g.Digest, digestOf(t, g.Image), d)
		}
	}
}

func TestTargetPlatforms(t *testing.T) {
	f := writeFixture(t)
	l, err := Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := l.Resolve(digestOf(t, f.build).String())
	if err != nil {
		t.Fatal(err)
	}
	if imgs, err := idx.Platforms(); err != nil || len(imgs) != 3 {
		t.Errorf("index: %d platform images (%v), want 3", len(imgs), err)
	}
	lone := digestOf(t, f.lone)
	img, err := l.Resolve(lone.String())
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := img.Platforms()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Digest != lone || imgs[0].Platform != nil {
		t.Errorf("image: %+v, want the lone image without a descriptor platform", imgs)
	}
	// The whole layout: the build's three platform images and the lone one.
	all, err := Platforms(l.Root())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Errorf("index.json: %d platform images, want 4", len(all))
	}
}

func TestIsAttestation(t *testing.T) {
	for _, tc := range []struct {
		d    v1.Descriptor
		want bool
	}{
		{v1.Descriptor{}, false},
		{v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}, false},
		{v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}, true},
		{v1.Descriptor{Annotations: map[string]string{AttestationRefType: "attestation-manifest"}}, true},
	} {
		if got := IsAttestation(tc.d); got != tc.want {
			t.Errorf("IsAttestation(%+v) = %v, want %v", tc.d, got, tc.want)
		}
	}
}
