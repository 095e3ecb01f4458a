package registry

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/ocilayout"
)

// Publisher pushes images by digest: blobs and manifests, never a tag.
type Publisher struct {
	Keychain *Keychain
	// Transport carries every request (RetryPolicy.Transport); nil means
	// DefaultTransport.
	Transport http.RoundTripper
	// Jobs bounds the parallel blob uploads per repository; 0 means 4.
	Jobs int
}

// uploadJobs is the number of parallel blob uploads per repository for
// a Jobs field: n, or 4 when n is not positive.
func uploadJobs(n int) int {
	if n <= 0 {
		return 4
	}
	return n
}

// layoutContents reads what pushing digest from the OCI layout at dir
// uploads.
func layoutContents(dir string, digest v1.Hash) (*contents, error) {
	l, err := ocilayout.Open(dir)
	if err != nil {
		return nil, err
	}
	t, err := l.Resolve(digest.String())
	if err != nil {
		return nil, err
	}
	c := &contents{}
	if t.Index != nil {
		err = c.addIndex(t.Index)
	} else {
		err = c.addImage(t.Image)
	}
	return c, err
}

// manifestSource is an image or index manifest to PUT.
type manifestSource interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}

// contents is what a push uploads: blobs, then image manifests, then the
// index (when there is one).
type contents struct {
	blobs  []v1.Layer
	seen   map[v1.Hash]bool
	images []manifestSource
	index  manifestSource
}

func (c *contents) addIndex(idx v1.ImageIndex) error {
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		if !d.MediaType.IsImage() {
			return fmt.Errorf("index %s holds a %s; slipway pushes indexes of images", d.Digest, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := c.addImage(img); err != nil {
			return err
		}
	}
	c.index = idx
	return nil
}

func (c *contents) addImage(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	if c.seen == nil {
		c.seen = map[v1.Hash]bool{}
	}
	for _, l := range append(layers, cfg) {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if !c.seen[d] {
			c.seen[d] = true
			c.blobs = append(c.blobs, l)
		}
	}
	c.images = append(c.images, img)
	return nil
}

// push uploads c to repo: blobs in parallel, the image manifests in
// parallel, the index last.
func (c *contents) push(ctx context.Context, pusher *remote.Pusher, k *Keychain, t http.RoundTripper, repo name.Repository, jobs int) error {
	mw, err := newManifestWriter(ctx, k, t, repo)
	if err != nil {
		return err
	}
	return c.pushWith(ctx, pusher, mw, repo, jobs)
}

// pushWith is push with the manifest writer for repo already made.
//
// Manifests are PUT by digest directly rather than through
// remote.WriteIndex: on a registry without the OCI Referrers API, that
// would also create a "sha256-<digest>" referrers tag for BuildKit's
// attestation manifests (they carry a subject), and nothing but the tag
// step may leave a tag.
func (c *contents) pushWith(ctx context.Context, pusher *remote.Pusher, mw *manifestWriter, repo name.Repository, jobs int) error {
	eg, egctx := errgroup.WithContext(ctx)
	eg.SetLimit(jobs)
	for _, l := range c.blobs {
		eg.Go(func() error { return pusher.Upload(egctx, repo, l) })
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("uploading blobs: %w", err)
	}
	eg, egctx = errgroup.WithContext(ctx)
	for _, m := range c.images {
		eg.Go(func() error { return mw.put(egctx, m) })
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if c.index != nil {
		return mw.put(ctx, c.index)
	}
	return nil
}

// manifestWriter PUTs manifests to one repository.
type manifestWriter struct {
	repo   name.Repository
	client *http.Client
}

func newManifestWriter(ctx context.Context, k *Keychain, t http.RoundTripper, repo name.Repository) (*manifestWriter, error) {
	auth, err := authn.Resolve(ctx, k, repo)
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = DefaultTransport
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, t, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", repo.RegistryStr(), err)
	}
	return &manifestWriter{repo: repo, client: &http.Client{Transport: tr}}, nil
}

// put PUTs m by its digest (the transport retries it).
func (r *manifestWriter) put(ctx context.Context, m manifestSource) error {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("putting manifest %s: %w", dgst, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return fmt.Errorf("putting manifest %s: %w", dgst, err)
	}
	return nil
}
