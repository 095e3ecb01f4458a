// Package ocilayout reads the OCI image layouts builds leave: it finds a
// digest in a layout, as an image index or an image, and lists the
// platform images of an index, BuildKit's attestation manifests left out.
package ocilayout

import (
	"errors"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AttestationRefType is the annotation BuildKit puts on the index entries
// of attestation manifests (provenance, SBOM): they are not platform
// images.
const AttestationRefType = "vnd.docker.reference.type"

// Layout is an opened OCI layout.
type Layout struct {
	dir  string
	root v1.ImageIndex
}

// Open opens the layout at dir and reads its index.json.
func Open(dir string) (*Layout, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout %s: %w", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	return &Layout{dir: dir, root: root}, nil
}

// Root is the layout's index.json.
func (l *Layout) Root() v1.ImageIndex { return l.root }

// Target is a digest found in a layout: an image index or an image
// (exactly one of Index and Image is set).
type Target struct {
	Digest v1.Hash
	Index  v1.ImageIndex
	Image  v1.Image
}

// Resolve finds digest in the layout, at any depth under index.json's
// entries: as an image index, else as an image. When it is neither, the
// error joins both lookups' errors.
func (l *Layout) Resolve(digest string) (Target, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return Target{}, fmt.Errorf("digest %q: %w", digest, err)
	}
	idx, ierr := findIndex(l.root, h)
	if ierr == nil {
		return Target{Digest: h, Index: idx}, nil
	}
	img, merr := findImage(l.root, h)
	if merr == nil {
		return Target{Digest: h, Image: img}, nil
	}
	return Target{}, fmt.Errorf("finding %s in the OCI layout %s: %w", digest, l.dir, errors.Join(ierr, merr))
}

// Platforms lists the platform images of t: those of its index (see
// Platforms), or its image alone, with no descriptor platform.
func (t Target) Platforms() ([]PlatformImage, error) {
	if t.Index != nil {
		return Platforms(t.Index)
	}
	if t.Image == nil {
		return nil, errors.New("no image index or image")
	}
	return []PlatformImage{{Digest: t.Digest, Image: t.Image}}, nil
}

// PlatformImage is one platform image of an index.
type PlatformImage struct {
	// Platform is the platform its index descriptor names; nil when the
	// descriptor names none (the image's config may).
	Platform *v1.Platform
	Digest   v1.Hash // the image manifest's digest
	Image    v1.Image
}

// IsAttestation reports whether d is the index entry of an attestation
// manifest: it carries AttestationRefType, or its platform is unknown.
func IsAttestation(d v1.Descriptor) bool {
	return d.Annotations[AttestationRefType] != "" || (d.Platform != nil && d.Platform.OS == "unknown")
}

// Platforms lists the platform images of idx, recursively through nested
// indexes, attestation manifests (see IsAttestation) and entries that are
// neither images nor indexes left out.
func Platforms(idx v1.ImageIndex) ([]PlatformImage, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the image index: %w", err)
	}
	var out []PlatformImage
	for _, d := range m.Manifests {
		if IsAttestation(d) {
			continue
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading index %s: %w", d.Digest, err)
			}
			imgs, err := Platforms(child)
			if err != nil {
				return nil, err
			}
			out = append(out, imgs...)
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
			}
			out = append(out, PlatformImage{Platform: d.Platform, Digest: d.Digest, Image: img})
		}
	}
	return out, nil
}

// findImage finds the image manifest h under idx, at any depth.
func findImage(idx v1.ImageIndex, h v1.Hash) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		switch {
		case d.Digest == h && d.MediaType.IsImage():
			return idx.Image(h)
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if img, err := findImage(child, h); err == nil {
				return img, nil
			}
		}
	}
	return nil, fmt.Errorf("no image manifest %s", h)
}

// findIndex finds the image index h under idx, at any depth.
func findIndex(idx v1.ImageIndex, h v1.Hash) (v1.ImageIndex, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		if d.Digest == h {
			return child, nil
		}
		if found, err := findIndex(child, h); err == nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("no image index %s", h)
}

// NewIndex is the OCI image index listing images (in their order), then
// the attestation manifests, each where the image it is about goes
// (vnd.docker.reference.digest), with annotations: the manifests are
// known by their descriptors alone, their blobs where the index goes
// already. It returns the index manifest and its descriptor.
func NewIndex(images, attestations []v1.Descriptor, annotations map[string]string) ([]byte, v1.Descriptor, error) {
	subject := func(a v1.Descriptor) int {
		return slices.IndexFunc(images, func(im v1.Descriptor) bool { return im.Digest.String() == a.Annotations["vnd.docker.reference.digest"] })
	}
	attestations = slices.Clone(attestations)
	slices.SortStableFunc(attestations, func(x, y v1.Descriptor) int { return subject(x) - subject(y) })
	var adds []mutate.IndexAddendum
	for _, d := range append(slices.Clone(images), attestations...) {
		adds = append(adds, mutate.IndexAddendum{Add: described{d}, Descriptor: d})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	h, err := idx.Digest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	return raw, v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(raw)), Digest: h}, nil
}

// described is a manifest known by its descriptor alone, as
// mutate.AppendManifests takes it.
type described struct{ d v1.Descriptor }

func (d described) MediaType() (types.MediaType, error) { return d.d.MediaType, nil }
func (d described) Digest() (v1.Hash, error)            { return d.d.Digest, nil }
func (d described) Size() (int64, error)                { return d.d.Size, nil }
