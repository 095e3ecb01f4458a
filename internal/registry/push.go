package registry

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Publisher pushes images by digest: blobs and manifests, never a tag.
type Publisher struct {
	Keychain *Keychain
	// Jobs bounds the parallel blob uploads per repository; 0 means 4.
	Jobs int
}

// manifestAttempts bounds the tries of one manifest PUT (on 429 and 5xx).
const manifestAttempts = 4

// PushLayout pushes the image or index with digest from the OCI layout at
// dir to every repository, in parallel, by digest only. Blobs a registry
// already has are not uploaded again (go-containerregistry checks, and
// mounts across repositories of one registry).
//
// Manifests are PUT by digest directly rather than through
// remote.WriteIndex: on a registry without the OCI Referrers API, that
// would also create a "sha256-<digest>" referrers tag for BuildKit's
// attestation manifests (they carry a subject), and a build must leave no
// tag at all.
func (p *Publisher) PushLayout(ctx context.Context, dir, digest string, repos []string) error {
	h, err := v1.NewHash(digest)
	if err != nil {
		return fmt.Errorf("digest %q: %w", digest, err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return fmt.Errorf("opening the OCI layout %s: %w", dir, err)
	}
	root, err := lp.ImageIndex()
	if err != nil {
		return fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	var push func(ctx context.Context, r *repoWriter) error
	if idx, err := root.ImageIndex(h); err == nil {
		push = func(ctx context.Context, r *repoWriter) error { return r.index(ctx, idx) }
	} else if img, err := root.Image(h); err == nil {
		push = func(ctx context.Context, r *repoWriter) error { return r.image(ctx, img) }
	} else {
		return fmt.Errorf("%s is not in the OCI layout %s", digest, dir)
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, repo := range repos {
		eg.Go(func() error {
			r, err := p.writer(ctx, repo)
			if err == nil {
				err = push(ctx, r)
			}
			if err != nil {
				return p.Keychain.explain(r.repo.Registry, fmt.Errorf("pushing %s@%s: %w", repo, digest, err))
			}
			return nil
		})
	}
	return eg.Wait()
}

// repoWriter writes to one repository.
type repoWriter struct {
	repo   name.Repository
	opts   []remote.Option
	client *http.Client
	jobs   int
}

func (p *Publisher) writer(ctx context.Context, repo string) (*repoWriter, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return &repoWriter{}, fmt.Errorf("repository %q: %w", repo, err)
	}
	auth, err := authn.Resolve(ctx, p.Keychain, r)
	if err != nil {
		return &repoWriter{repo: r}, err
	}
	tr, err := transport.NewWithContext(ctx, r.Registry, auth, remote.DefaultTransport, []string{r.Scope(transport.PushScope)})
	if err != nil {
		return &repoWriter{repo: r}, fmt.Errorf("authenticating to %s: %w", r.RegistryStr(), err)
	}
	jobs := p.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	return &repoWriter{
		repo:   r,
		opts:   []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth)},
		client: &http.Client{Transport: tr},
		jobs:   jobs,
	}, nil
}

func (r *repoWriter) index(ctx context.Context, idx v1.ImageIndex) error {
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err == nil {
				err = r.index(ctx, child)
			}
			if err != nil {
				return err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err == nil {
				err = r.image(ctx, img)
			}
			if err != nil {
				return err
			}
		}
	}
	return r.manifest(ctx, idx)
}

func (r *repoWriter) image(ctx context.Context, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	eg, egctx := errgroup.WithContext(ctx)
	eg.SetLimit(r.jobs)
	for _, l := range append(layers, cfg) {
		eg.Go(func() error { return remote.WriteLayer(r.repo, l, append(r.opts, remote.WithContext(egctx))...) })
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("uploading blobs: %w", err)
	}
	return r.manifest(ctx, img)
}

// manifest PUTs m by its digest, retrying 429 and 5xx answers with
// backoff (honouring Retry-After).
func (r *repoWriter) manifest(ctx context.Context, m interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}) error {
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	mt, err := m.MediaType()
	if err != nil {
		return err
	}
	dgst, err := m.Digest()
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", r.repo.Scheme(), r.repo.RegistryStr(), r.repo.RepositoryStr(), dgst)
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", string(mt))
		resp, err := r.client.Do(req)
		if err != nil {
			return fmt.Errorf("putting manifest %s: %w", dgst, err)
		}
		err = transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted)
		resp.Body.Close()
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if err == nil || !retry || attempt == manifestAttempts {
			if err != nil {
				return fmt.Errorf("putting manifest %s: %w", dgst, err)
			}
			return nil
		}
		wait := delay
		if s, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil && s > 0 {
			wait = min(time.Duration(s)*time.Second, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		delay *= 2
	}
}
