package registry

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/artifact"
)

// recorder logs a registry's requests; it answers 429 to the first blob
// upload it sees when throttle is set.
type recorder struct {
	next     http.Handler
	mu       sync.Mutex
	reqs     []string
	throttle bool
	// served, when set, receives a signal after each answer (dropped
	// when nobody waits and its buffer is full).
	served chan struct{}
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
	throttle := r.throttle && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/")
	if throttle {
		r.throttle = false
	}
	r.mu.Unlock()
	if throttle {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	r.next.ServeHTTP(w, req)
	if r.served != nil {
		select {
		case r.served <- struct{}{}:
		default:
		}
	}
}

func (r *recorder) count(pred func(string) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.reqs {
		if pred(s) {
			n++
		}
	}
	return n
}

// The copy takes the image from the local layout: inside the source's
// registry no blob is uploaded again; another registry gets them uploaded
// (a 429 retried); cosign's artifact manifests come along.
func TestCopy(t *testing.T) {
	a := &recorder{next: quietRegistry()}
	b := &recorder{next: quietRegistry(), throttle: true}
	hostA, hostB := serve(t, a), serve(t, b)

	dir, dgst := randomLayout(t, 512)
	ctx := context.Background()
	k := NewKeychain(nil, authn.NewMultiKeychain())
	src := hostA + "/team/app"
	pushLayout(t, k, dir, dgst, src)
	// A cosign-style artifact tagged next to it.
	sigTag := "sha256-" + dgst.Hex + ".sig"
	sig, _ := random.Image(64, 1)
	if err := remote.Write(mustRef(t, src+":"+sigTag), sig); err != nil {
		t.Fatal(err)
	}

	sameReg, otherReg := hostA+"/mirror/app", hostB+"/acme/app"
	attached := artifact.Attached{Kind: artifact.Signature, Subject: dgst}
	srcRepo, dsts := mustRef(t, src+":x").Context(), []name.Repository{mustRef(t, sameReg+":x").Context(), mustRef(t, otherReg+":x").Context()}
	if err := (&Copier{Keychain: k}).Copy(ctx, artifact.CopySource{Ref: srcRepo.Digest(dgst.String()), LayoutDir: dir, Attached: []artifact.Attached{attached}}, dsts); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{sameReg, otherReg} {
		got, err := remote.Index(mustRef(t, repo+"@"+dgst.String()))
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		if gd, _ := got.Digest(); gd != dgst {
			t.Errorf("%s has %s", repo, gd)
		}
		if _, err := remote.Head(mustRef(t, repo+":"+sigTag)); err != nil {
			t.Errorf("%s lacks the signature manifest: %v", repo, err)
		}
		tags, _ := remote.List(mustRef(t, repo+":x").Context())
		if len(tags) != 1 || tags[0] != sigTag {
			t.Errorf("%s tags = %q, want only the signature's", repo, tags)
		}
	}
	// go-containerregistry's registry keeps one blob store for all its
	// repositories, so the copy finds every blob there and uploads none
	// (the cross-repository mount is shown against the distribution
	// registry in cmd/slipway's e2e tests).
	if n := a.count(func(s string) bool {
		return strings.HasPrefix(s, "PATCH /v2/mirror/app/") || strings.HasPrefix(s, "PUT /v2/mirror/app/blobs/")
	}); n != 0 {
		t.Errorf("inside one registry: %d blob uploads, want none", n)
	}
	if n := b.count(func(s string) bool { return strings.HasPrefix(s, "POST /v2/acme/app/blobs/uploads/") }); n < 2 {
		t.Errorf("the other registry saw %d upload starts, want the throttled one retried", n)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pushLayout pushes digest from the layout at dir to repo, as a build does
// with no blob handed over before the end.
func pushLayout(t *testing.T, k *Keychain, dir string, digest v1.Hash, repo string) {
	t.Helper()
	ctx := context.Background()
	up, err := (&Publisher{Keychain: k}).StartUpload(ctx, dir, mustRef(t, repo+":x").Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Finish(ctx, digest); err != nil {
		t.Fatal(err)
	}
}

// serve serves h on loopback for the test; it returns host:port.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// quietRegistry is go-containerregistry's in-memory registry, not logging.
func quietRegistry() http.Handler {
	return ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
}

// randomLayout writes a random two-platform index, of two layers of size
// bytes each, into a new OCI layout; it returns the layout and the digest.
func randomLayout(t *testing.T, size int64) (string, v1.Hash) {
	t.Helper()
	idx, err := random.Index(size, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	dgst, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return dir, dgst
}

// An upload takes each blob as the build hands it over: the blobs are up
// before Finish, manifests handed over are not uploaded as blobs, and
// Finish only PUTs the manifests.
func TestUploadStreamsBlobs(t *testing.T) {
	rec := &recorder{next: quietRegistry(), served: make(chan struct{}, 1024)}
	host := serve(t, rec)
	dir, dgst := randomLayout(t, 512)
	c, err := layoutContents(dir, dgst)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	up, err := (&Publisher{Keychain: NewKeychain(nil, authn.NewMultiKeychain())}).StartUpload(ctx, dir, mustRef(t, host+"/team/app:x").Context())
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string
	for _, m := range c.images {
		d, _ := m.Digest()
		manifests = append(manifests, d.String())
		up.Blob(d)
	}
	for _, l := range c.blobs {
		d, _ := l.Digest()
		up.Blob(d)
		up.Blob(d) // twice: uploaded once
	}
	blobPuts := func() int {
		return rec.count(func(s string) bool { return strings.HasPrefix(s, "PUT /v2/team/app/blobs/uploads/") })
	}
	// The uploads run in the background, before Finish: wait for their
	// answers (a signal per answer; go test's -timeout bounds a hang).
	for blobPuts() < len(c.blobs) {
		<-rec.served
	}
	if n := blobPuts(); n != len(c.blobs) {
		t.Fatalf("%d blob uploads before Finish, want %d", n, len(c.blobs))
	}
	for _, m := range manifests {
		if n := rec.count(func(s string) bool { return strings.Contains(s, "digest="+m) }); n != 0 {
			t.Errorf("manifest %s uploaded as a blob", m)
		}
	}
	before := rec.count(func(string) bool { return true })
	if err := up.Finish(ctx, dgst); err != nil {
		t.Fatal(err)
	}
	up.Abort() // after Finish: nothing to do
	rec.mu.Lock()
	// The manifest writer's handshake (GET /v2/), begun by StartUpload,
	// may land on either side of Finish.
	after := slices.DeleteFunc(slices.Clone(rec.reqs[before:]), func(r string) bool { return r == "GET /v2/?" })
	rec.mu.Unlock()
	for _, r := range after {
		if !strings.HasPrefix(r, "PUT /v2/team/app/manifests/") {
			t.Errorf("after the build: %s, want only manifest PUTs", r)
		}
	}
	if len(after) != len(c.images)+1 {
		t.Errorf("%d requests after the build, want %d manifest PUTs", len(after), len(c.images)+1)
	}
	got, err := remote.Index(mustRef(t, host+"/team/app@"+dgst.String()))
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != dgst {
		t.Errorf("pushed %s, want %s", gd, dgst)
	}
}

// A failed blob upload fails Finish, naming the repository; Abort stops
// an upload that is not finished.
func TestUploadFailsAndAborts(t *testing.T) {
	host := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
	}))
	dir, dgst := randomLayout(t, 64)
	c, err := layoutContents(dir, dgst)
	if err != nil {
		t.Fatal(err)
	}
	p := &Publisher{Keychain: NewKeychain(nil, authn.NewMultiKeychain())}
	up, err := p.StartUpload(context.Background(), dir, mustRef(t, host+"/team/app:x").Context())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := c.blobs[0].Digest()
	up.Blob(d)
	err = up.Finish(context.Background(), dgst)
	if err == nil || !strings.Contains(err.Error(), host+"/team/app") {
		t.Errorf("Finish = %v, want an error naming the repository", err)
	}
	up, err = p.StartUpload(context.Background(), dir, mustRef(t, host+"/team/app:x").Context())
	if err != nil {
		t.Fatal(err)
	}
	up.Blob(d)
	up.Abort()
	up.Blob(d) // after Abort: ignored
}

// slipway promote's copy reads the image from its repository, not a
// layout: the index and every platform, the attached manifests and every
// referrer of the digests named (not only Sigstore bundles), missing
// blobs only: a second copy uploads nothing.
func TestCopyFromRegistry(t *testing.T) {
	a, b := &recorder{next: quietRegistry()}, &recorder{next: quietRegistry()}
	hostA, hostB := serve(t, a), serve(t, b)
	ctx := context.Background()
	k := NewKeychain(nil, authn.NewMultiKeychain())
	idx, err := random.Index(256, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	dgst, _ := idx.Digest()
	src := mustRef(t, hostA+"/team/app:x").Context()
	if err := remote.WriteIndex(src.Digest(dgst.String()), idx); err != nil {
		t.Fatal(err)
	}
	// Another tool's referrer (an SBOM by oras, say) on the index.
	sbom, _ := random.Image(64, 1)
	sbom = mutate.ConfigMediaType(mutate.MediaType(sbom, types.OCIManifestSchema1), "application/spdx+json")
	mt, _ := idx.MediaType()
	sbom = mutate.Subject(sbom, v1.Descriptor{MediaType: mt, Digest: dgst, Size: mustSize(t, idx)}).(v1.Image)
	sbomDigest, _ := sbom.Digest()
	if err := remote.Write(src.Digest(sbomDigest.String()), sbom); err != nil {
		t.Fatal(err)
	}
	dst := mustRef(t, hostB+"/prod/app:x").Context()
	cp := &Copier{Keychain: k}
	source := artifact.CopySource{Ref: src.Digest(dgst.String()), ReferrersOf: []v1.Hash{dgst}, AllReferrers: true}
	if err := cp.Copy(ctx, source, []name.Repository{dst}); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Index(dst.Digest(dgst.String()))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := got.IndexManifest()
	for _, d := range m.Manifests {
		if _, err := remote.Image(dst.Digest(d.Digest.String())); err != nil {
			t.Errorf("platform %s was not copied: %v", d.Digest, err)
		}
	}
	refs, err := remote.Referrers(dst.Digest(dgst.String()))
	if err != nil {
		t.Fatal(err)
	}
	if rm, _ := refs.IndexManifest(); len(rm.Manifests) != 1 || rm.Manifests[0].Digest != sbomDigest {
		t.Errorf("referrers at the destination = %+v, want the SBOM", rm)
	}
	uploads := func() int {
		return b.count(func(s string) bool {
			return strings.HasPrefix(s, "PATCH /v2/prod/app/") || strings.HasPrefix(s, "PUT /v2/prod/app/blobs/")
		})
	}
	before := uploads()
	if err := cp.Copy(ctx, source, []name.Repository{dst}); err != nil {
		t.Fatal(err)
	}
	if n := uploads() - before; n != 0 {
		t.Errorf("the second copy uploaded %d blobs, want none (missing blobs only)", n)
	}
}

func mustSize(t *testing.T, idx v1.ImageIndex) int64 {
	t.Helper()
	n, err := idx.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
