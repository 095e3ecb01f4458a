package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/artifact"
)

// Copier copies a built digest from the repository it was pushed and
// signed in to the others (pipeline.Copier). The image comes from the
// build's local OCI layout, byte for byte the digest that was scanned and
// signed, so nothing is pulled back from the first registry; blobs a
// destination already has are skipped, and inside one registry they are
// mounted from the source repository instead of uploaded. The signature
// and attestation manifests are small and are read from the source
// repository, then written by their tags.
type Copier struct {
	Keychain *Keychain
	// Transport carries every request; nil means DefaultTransport.
	Transport http.RoundTripper
	// Jobs bounds the parallel blob uploads per repository; 0 means 4.
	Jobs int
}

// Copy copies src to every repository of to: the image (from the OCI
// layout, or from src's repository when src.LayoutDir is ""), cosign's
// manifests attached to it, and its referrers.
func (c *Copier) Copy(ctx context.Context, src artifact.CopySource, to []name.Repository) error {
	if len(to) == 0 {
		return nil
	}
	from := src.Ref.Context()
	opts := RemoteOptions(ctx, c.Keychain, c.Transport)
	img, err := c.contents(src, opts)
	if err != nil {
		return err
	}
	for i, l := range img.blobs {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		img.blobs[i] = &remote.MountableLayer{Layer: l, Reference: from.Digest(d.String())}
	}
	arts := make(map[artifact.Attached]v1.Image, len(src.Attached))
	for _, a := range src.Attached {
		ref := a.In(from)
		img, err := remote.Image(ref, opts...)
		if err != nil {
			return c.Keychain.explain(from.Registry, fmt.Errorf("reading %s: %w", ref, err))
		}
		arts[a] = img
	}
	refs, err := c.referrers(from, src.ReferrersOf, src.AllReferrers, opts)
	if err != nil {
		return err
	}
	jobs := uploadJobs(c.Jobs)
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	eg, egctx := errgroup.WithContext(ctx)
	for _, dst := range to {
		eg.Go(func() error {
			if err := img.push(egctx, pusher, c.Keychain, c.Transport, dst, jobs); err != nil {
				return c.Keychain.explain(dst.Registry, fmt.Errorf("copying %s to %s: %w", src.Ref, dst, err))
			}
			for a, im := range arts {
				if err := pusher.Push(egctx, a.In(dst), im); err != nil {
					return c.Keychain.explain(dst.Registry, fmt.Errorf("copying %s to %s: %w", a.In(from), dst, err))
				}
			}
			// After their subjects: a referrer names one, and where the
			// registry has no Referrers API go-containerregistry adds it
			// to the subject's sha256-<hex> referrers tag.
			for _, r := range refs {
				if err := pusher.Push(egctx, dst.Digest(r.digest.String()), r.img); err != nil {
					return c.Keychain.explain(dst.Registry, fmt.Errorf("copying the referrer %s to %s: %w", r.digest, dst, err))
				}
			}
			return nil
		})
	}
	return eg.Wait()
}

// maxReferrers bounds the referrers copied for one subject.
const maxReferrers = 100

type referrer struct {
	digest v1.Hash
	img    v1.Image
}

// contents reads what copying src uploads: from the OCI layout, or from
// its repository (manifests now, layers when a destination lacks them).
func (c *Copier) contents(src artifact.CopySource, opts []remote.Option) (*contents, error) {
	h, err := v1.NewHash(src.Ref.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("copying %s: %w", src.Ref, err)
	}
	if src.LayoutDir != "" {
		img, err := layoutContents(src.LayoutDir, h)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the OCI layout: %w", h, err)
		}
		return img, nil
	}
	desc, err := remote.Get(src.Ref, opts...)
	if err != nil {
		return nil, c.Keychain.explain(src.Ref.Registry, fmt.Errorf("reading %s: %w", src.Ref, err))
	}
	img := &contents{}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err == nil {
			err = img.addIndex(idx)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", src.Ref, err)
		}
		return img, nil
	}
	im, err := desc.Image()
	if err == nil {
		err = img.addImage(im)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src.Ref, err)
	}
	return img, nil
}

// referrers reads, in from, the referrers of each subject: the Sigstore
// bundles only (signatures and attestations in cosign v3's format), or
// every one with all.
func (c *Copier) referrers(from name.Repository, subjects []v1.Hash, all bool, opts []remote.Option) ([]referrer, error) {
	var out []referrer
	for _, s := range subjects {
		ref := from.Digest(s.String())
		idx, err := remote.Referrers(ref, opts...)
		if err != nil {
			return nil, c.Keychain.explain(from.Registry, fmt.Errorf("listing the referrers of %s: %w", ref, err))
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for i, d := range m.Manifests {
			if i == maxReferrers {
				break
			}
			if !all && !strings.HasPrefix(d.ArtifactType, artifact.BundleMediaTypePrefix) {
				continue
			}
			img, err := remote.Image(from.Digest(d.Digest.String()), opts...)
			if err != nil {
				return nil, c.Keychain.explain(from.Registry, fmt.Errorf("reading the referrer %s of %s: %w", d.Digest, ref, err))
			}
			out = append(out, referrer{d.Digest, img})
		}
	}
	return out, nil
}
