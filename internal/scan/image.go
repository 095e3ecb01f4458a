package scan

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	trivyimage "github.com/aquasecurity/trivy/pkg/fanal/image"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"

	"github.com/slipway-ci/slipway/internal/ocilayout"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// target is one platform image to analyse.
type target struct {
	Platform string // "linux/amd64"; "" when unknown
	Digest   string // the platform manifest's digest
	Image    ftypes.Image
	cleanup  func()
}

// layoutImage is a v1.Image read from the local OCI layout, named for
// Trivy. It is what Trivy's image artifact analyses: layers come from the
// layout's blobs, nothing from a registry.
type layoutImage struct {
	v1.Image
	name        string
	repoDigests []string
}

func (i layoutImage) Name() string          { return i.name }
func (i layoutImage) ID() (string, error)   { return trivyimage.ID(i.Image) }
func (i layoutImage) RepoTags() []string    { return nil }
func (i layoutImage) RepoDigests() []string { return i.repoDigests }

// layoutTargets opens the OCI layout at dir and returns one target per
// platform image of the build: the images of built.Platforms by digest
// when the build listed them, else every platform image under
// built.Digest (or, without a digest, under the layout's index.json).
func layoutTargets(dir string, built *pipeline.BuildResult, imageName string) ([]target, error) {
	l, err := ocilayout.Open(dir)
	if err != nil {
		return nil, err
	}
	var found []platformImage
	if len(built.Platforms) > 0 {
		for _, pi := range built.Platforms {
			t, err := l.Resolve(pi.Digest.String())
			if err != nil {
				return nil, fmt.Errorf("platform %s: %w", pi.Platform, err)
			}
			if t.Image == nil {
				return nil, fmt.Errorf("platform %s: %s in the OCI layout %s is an image index, not an image", pi.Platform, pi.Digest, dir)
			}
			found = append(found, platformImage{platform: pi.Platform, digest: t.Digest, img: t.Image})
		}
	} else {
		var imgs []ocilayout.PlatformImage
		if d := built.DigestStr(); d != "" {
			t, err := l.Resolve(d)
			if err != nil {
				return nil, fmt.Errorf("build: %w", err)
			}
			imgs, err = t.Platforms()
			if err != nil {
				return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
			}
		} else if imgs, err = ocilayout.Platforms(l.Root()); err != nil {
			return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
		}
		for _, pi := range imgs {
			var plat string
			if pi.Platform != nil {
				plat = pi.Platform.String()
			} else {
				plat = configPlatform(pi.Image)
			}
			found = append(found, platformImage{platform: plat, digest: pi.Digest, img: pi.Image})
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("the OCI layout %s holds no image to scan", dir)
	}
	out := make([]target, 0, len(found))
	for _, f := range found {
		out = append(out, target{
			Platform: f.platform,
			Digest:   f.digest.String(),
			Image:    layoutImage{Image: f.img, name: artifactName(imageName, dir, f.digest.String()), repoDigests: repoDigests(imageName, f.digest.String())},
			cleanup:  func() {},
		})
	}
	return out, nil
}

type platformImage struct {
	platform string
	digest   v1.Hash
	img      v1.Image
}

// configPlatform is the platform an image's config names.
func configPlatform(img v1.Image) string {
	cf, err := img.ConfigFile()
	if err != nil || cf.OS == "" {
		return ""
	}
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	return p.String()
}

// artifactName is how reports name one platform image: the image
// repository (or, without one, the layout directory) at the platform
// manifest's digest.
func artifactName(imageName, layoutDir, digest string) string {
	base := imageName
	if base == "" {
		base = layoutDir
	}
	return base + "@" + digest
}

func repoDigests(imageName, digest string) []string {
	if imageName == "" {
		return nil
	}
	if _, err := name.NewDigest(imageName + "@" + digest); err != nil {
		return nil
	}
	return []string{imageName + "@" + digest}
}

// imageRepository returns the repository the build named the image
// (buildx metadata image.name: "repo:tag,repo2:tag"), or "".
func imageRepository(built *pipeline.BuildResult) string {
	if built == nil || built.Metadata == nil {
		return ""
	}
	s, _ := built.Metadata["image.name"].(string)
	first, _, _ := strings.Cut(s, ",")
	if first == "" {
		return ""
	}
	return repositoryOf(strings.TrimSpace(first))
}

// remoteTargets resolves ref in its registry with Trivy's remote image
// source, once per platform (or once, for the registry's default
// platform selection, when platforms is empty).
func remoteTargets(ctx context.Context, ref string, platforms []string, opt ftypes.RegistryOptions) ([]target, error) {
	if len(platforms) == 0 {
		platforms = []string{""}
	}
	var out []target
	for _, plat := range platforms {
		o := opt
		if plat != "" {
			p, err := v1.ParsePlatform(plat)
			if err != nil {
				return nil, fmt.Errorf("platform %q: %w", plat, err)
			}
			o.Platform = ftypes.Platform{Platform: p, Force: true}
		}
		img, cleanup, err := trivyimage.NewContainerImage(ctx, ref, ftypes.ImageOptions{
			RegistryOptions: o,
			ImageSources:    ftypes.ImageSources{ftypes.RemoteImageSource},
		})
		if err != nil {
			for _, t := range out {
				t.cleanup()
			}
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		d, err := img.Digest()
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		if plat == "" {
			plat = configPlatform(img)
		}
		// Name each platform image by its own digest, as for the layout.
		named := renamedImage{Image: img, name: artifactName(repositoryOf(ref), ref, d.String())}
		out = append(out, target{Platform: plat, Digest: d.String(), Image: named, cleanup: cleanup})
	}
	return out, nil
}

// renamedImage is a Trivy image under another name.
type renamedImage struct {
	ftypes.Image
	name string
}

func (i renamedImage) Name() string { return i.name }

func repositoryOf(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().Name()
}
