package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Upload is a push by digest to one repository that starts before the
// image is complete: the build hands it each blob as soon as the blob is
// in the OCI layout (Blob), and the blobs go up while BuildKit is still
// exporting; Finish pushes what is left once the build has returned, the
// blobs not handed over, then the manifests. So only the manifest PUTs
// wait for the end of the build.
type Upload struct {
	dir    string
	repo   name.Repository
	pusher *remote.Pusher
	keys   *Keychain
	tr     http.RoundTripper
	jobs   int

	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup
	// mw is the manifest writer, authenticated while the blobs go up.
	mw    chan *manifestWriter
	mwErr error

	mu     sync.Mutex
	closed bool             // Finish or Abort began: no more blobs
	seen   map[v1.Hash]bool // blobs handed over
	done   map[v1.Hash]bool // blobs uploaded
	err    error            // the first failed upload
}

// StartUpload begins a push to repo from the OCI layout at dir. Blob and
// Finish (or Abort) complete it.
func (p *Publisher) StartUpload(ctx context.Context, dir string, r name.Repository) (*Upload, error) {
	jobs := uploadJobs(p.Jobs)
	pusher, err := remote.NewPusher(RemoteOptions(ctx, p.Keychain, p.Transport)...)
	if err != nil {
		return nil, err
	}
	uctx, cancel := context.WithCancel(ctx)
	u := &Upload{
		dir: dir, repo: r, pusher: pusher, keys: p.Keychain, tr: p.Transport, jobs: jobs,
		ctx: uctx, cancel: cancel, sem: make(chan struct{}, jobs),
		mw: make(chan *manifestWriter, 1), seen: map[v1.Hash]bool{}, done: map[v1.Hash]bool{},
	}
	go func() {
		mw, err := newManifestWriter(uctx, p.Keychain, p.Transport, r)
		u.mwErr = err
		u.mw <- mw
	}()
	return u, nil
}

// Blob uploads the layout's blob h in the background, once. Manifests
// and indexes are left for Finish, which PUTs them in order.
func (u *Upload) Blob(h v1.Hash) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.seen[h] {
		return
	}
	u.seen[h] = true
	// Started under the lock: Finish and Abort set closed under it
	// before they wait, so no upload starts after their Wait.
	u.wg.Go(func() {
		select {
		case u.sem <- struct{}{}:
		case <-u.ctx.Done():
			return
		}
		defer func() { <-u.sem }()
		l, manifest, err := layoutBlob(u.dir, h)
		if err == nil && manifest {
			return
		}
		if err == nil {
			err = u.pusher.Upload(u.ctx, u.repo, l)
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		if err != nil {
			if u.err == nil {
				u.err = fmt.Errorf("uploading %s: %w", h, err)
			}
			return
		}
		u.done[h] = true
	})
}

// Finish waits for the uploads under way and pushes the image or index
// with digest from the layout: its blobs not uploaded yet, then the image
// manifests, then the index.
func (u *Upload) Finish(ctx context.Context, digest v1.Hash) error {
	defer u.cancel()
	u.close()
	if u.err != nil {
		return u.keys.explain(u.repo.Registry, fmt.Errorf("pushing %s: %w", u.repo.Digest(digest.String()), u.err))
	}
	c, err := layoutContents(u.dir, digest)
	if err != nil {
		return err
	}
	c.blobs = slices.DeleteFunc(c.blobs, func(l v1.Layer) bool {
		d, err := l.Digest()
		return err == nil && u.done[d]
	})
	mw := <-u.mw
	if u.mwErr != nil {
		return u.keys.explain(u.repo.Registry, u.mwErr)
	}
	if err := c.pushWith(ctx, u.pusher, mw, u.repo, u.jobs); err != nil {
		return u.keys.explain(u.repo.Registry, fmt.Errorf("pushing %s@%s: %w", u.repo, digest, err))
	}
	return nil
}

// Abort stops the uploads under way and waits for them.
func (u *Upload) Abort() {
	u.cancel()
	u.close()
}

// close takes no more blobs and waits for the uploads under way.
func (u *Upload) close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.wg.Wait()
}

// layoutBlob returns the blob h of the layout at dir as a layer to
// upload, and whether it is a manifest or an index instead (Finish PUTs
// those).
func layoutBlob(dir string, h v1.Hash) (v1.Layer, bool, error) {
	path := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, err
	}
	if fi.Size() <= maxManifestSize && isManifest(path) {
		return nil, true, nil
	}
	l, err := partial.CompressedToLayer(&fileBlob{path: path, digest: h, size: fi.Size()})
	return l, false, err
}

// maxManifestSize is the largest blob looked into for a manifest (the
// limit registries commonly enforce on a manifest PUT).
const maxManifestSize = 4 << 20

// isManifest tells whether the JSON at path is an image manifest or an
// index, by its mediaType (BuildKit always writes it).
func isManifest(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var first [1]byte
	if _, err := io.ReadFull(f, first[:]); err != nil || first[0] != '{' {
		return false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.NewDecoder(f).Decode(&m); err != nil {
		return false
	}
	return m.MediaType.IsImage() || m.MediaType.IsIndex()
}

// fileBlob is a blob file of an OCI layout, as go-containerregistry's
// partial.CompressedLayer.
type fileBlob struct {
	path   string
	digest v1.Hash
	size   int64
}

func (b *fileBlob) Digest() (v1.Hash, error)            { return b.digest, nil }
func (b *fileBlob) Size() (int64, error)                { return b.size, nil }
func (b *fileBlob) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (b *fileBlob) Compressed() (io.ReadCloser, error)  { return os.Open(b.path) }
