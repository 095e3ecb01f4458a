package build

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-ci/slipway/internal/build/dockerdriver"
	"github.com/slipway-ci/slipway/internal/ocilayout"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Loader loads the built image from the OCI layout into a Docker Engine
// (pipeline.Loader): build-push-action's load, so that a later step can
// docker run what was built, by its tags. It reads the layout, not the
// builder, so it serves every builder path, a build on several nodes too.
type Loader struct{}

// Load implements pipeline.Loader.
func (Loader) Load(ctx context.Context, l *pipeline.LoadPlan, tags []name.Tag, built *pipeline.BuildResult) (*pipeline.LoadResult, error) {
	if built == nil || len(built.Platforms) != 1 {
		return nil, fmt.Errorf("load takes an image of one platform")
	}
	layout, err := ocilayout.Open(built.LayoutDir)
	if err != nil {
		return nil, err
	}
	pi := built.Platforms[0]
	t, err := layout.Resolve(pi.Digest.String())
	if err == nil && t.Image == nil {
		err = fmt.Errorf("%s is an image index", pi.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s's image: %w", pi.Platform, err)
	}
	img := t.Image
	// Untagged, the Engine knows the image by its ID; the reference only
	// names it in the archive.
	ref, err := name.NewDigest("slipway/load@" + pi.Digest.String())
	if err != nil {
		return nil, err
	}
	id, err := dockerdriver.LoadImage(ctx, l.DockerHost, ref, img, tags)
	if err != nil {
		return nil, err
	}
	return &pipeline.LoadResult{DockerHost: l.DockerHost, ImageID: id, Tags: tags}, nil
}
