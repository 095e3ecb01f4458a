package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/pipeline"
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

// Copy implements pipeline.Copier.
func (c *Copier) Copy(ctx context.Context, from string, to []string, built *pipeline.BuildResult, artifacts []string) error {
	if len(to) == 0 {
		return nil
	}
	if built == nil || built.Digest == "" {
		return fmt.Errorf("copying to %v: the build left no digest", to)
	}
	src, err := name.NewRepository(from)
	if err != nil {
		return fmt.Errorf("repository %q: %w", from, err)
	}
	img, err := layoutContents(built.LayoutDir, built.Digest)
	if err != nil {
		return fmt.Errorf("reading %s from the OCI layout: %w", built.Digest, err)
	}
	for i, l := range img.blobs {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		img.blobs[i] = &remote.MountableLayer{Layer: l, Reference: src.Digest(d.String())}
	}
	opts := RemoteOptions(ctx, c.Keychain, c.Transport)
	arts := make(map[string]v1.Image, len(artifacts))
	for _, tag := range artifacts {
		ref := src.Tag(tag)
		a, err := remote.Image(ref, opts...)
		if err != nil {
			return c.Keychain.explain(src.Registry, fmt.Errorf("reading %s: %w", ref, err))
		}
		arts[tag] = a
	}
	jobs := uploadJobs(c.Jobs)
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	eg, egctx := errgroup.WithContext(ctx)
	for _, repo := range to {
		eg.Go(func() error {
			dst, err := name.NewRepository(repo)
			if err != nil {
				return fmt.Errorf("repository %q: %w", repo, err)
			}
			if err := img.push(egctx, pusher, c.Keychain, c.Transport, dst, jobs); err != nil {
				return c.Keychain.explain(dst.Registry, fmt.Errorf("copying %s@%s to %s: %w", from, built.Digest, repo, err))
			}
			for tag, a := range arts {
				if err := pusher.Push(egctx, dst.Tag(tag), a); err != nil {
					return c.Keychain.explain(dst.Registry, fmt.Errorf("copying %s:%s to %s: %w", from, tag, repo, err))
				}
			}
			return nil
		})
	}
	return eg.Wait()
}
