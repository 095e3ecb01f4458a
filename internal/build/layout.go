package build

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/ocilayout"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// platformImages reads, from the OCI layout at dir, the images of the
// result whose digest is dgst: each platform's manifest digest and image
// size (config and layers), attestation manifests left out.
func platformImages(dir string, dgst v1.Hash) ([]pipeline.PlatformImage, error) {
	l, err := ocilayout.Open(dir)
	if err != nil {
		return nil, err
	}
	t, err := l.Resolve(dgst.String())
	if err != nil {
		return nil, fmt.Errorf("build result: %w", err)
	}
	imgs, err := t.Platforms()
	if err != nil {
		return nil, fmt.Errorf("build result %s: %w", dgst, err)
	}
	out := make([]pipeline.PlatformImage, 0, len(imgs))
	for _, pi := range imgs {
		info, err := imageInfo(pi.Image, pi.Platform)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
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
	return pipeline.PlatformImage{Platform: platform.String(), Digest: dgst, Config: m.Config.Digest, Size: size}, nil
}
