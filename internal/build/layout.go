package build

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// attestationRef is the annotation BuildKit puts on the index entries of
// attestation manifests (provenance, SBOM).
const attestationRef = "vnd.docker.reference.type"

// platformImages reads, from the OCI layout at dir, the images of the
// result whose digest is dgst: each platform's manifest digest and image
// size (config and layers), attestation manifests left out.
func platformImages(dir string, dgst string) ([]pipeline.PlatformImage, error) {
	h, err := v1.NewHash(dgst)
	if err != nil {
		return nil, fmt.Errorf("build result digest %q: %w", dgst, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout %s: %w", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	if idx, err := root.ImageIndex(h); err == nil {
		return indexImages(idx)
	}
	img, err := root.Image(h)
	if err != nil {
		return nil, fmt.Errorf("finding %s in the OCI layout %s: %w", dgst, dir, err)
	}
	pi, err := imageInfo(img, nil)
	if err != nil {
		return nil, err
	}
	return []pipeline.PlatformImage{pi}, nil
}

func indexImages(idx v1.ImageIndex) ([]pipeline.PlatformImage, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the image index: %w", err)
	}
	var out []pipeline.PlatformImage
	for _, d := range m.Manifests {
		if d.Annotations[attestationRef] != "" || (d.Platform != nil && d.Platform.OS == "unknown") {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
		}
		pi, err := imageInfo(img, d.Platform)
		if err != nil {
			return nil, err
		}
		out = append(out, pi)
	}
	return out, nil
}

func imageInfo(img v1.Image, platform *v1.Platform) (pipeline.PlatformImage, error) {
	m, err := img.Manifest()
	if err != nil {
		return pipeline.PlatformImage{}, fmt.Errorf("reading an image manifest: %w", err)
	}
	dgst, err := img.Digest()
	if err != nil {
		return pipeline.PlatformImage{}, err
	}
	if platform == nil {
		cf, err := img.ConfigFile()
		if err != nil {
			return pipeline.PlatformImage{}, fmt.Errorf("reading the config of %s: %w", dgst, err)
		}
		platform = cf.Platform()
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return pipeline.PlatformImage{Platform: platform.String(), Digest: dgst.String(), Size: size}, nil
}
