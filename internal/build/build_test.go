package build

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/meta"
)

func TestCacheEntries(t *testing.T) {
	gha := GHACache{URL: "https://cache.example/", URLv2: "https://results.example/", Token: "tok"}
	imports, err := cacheEntries([]attrs.Entry{"ghcr.io/a/b:cache", "type=local,src=/tmp/c", "type=gha,scope=x"}, false, gha)
	if err != nil {
		t.Fatal(err)
	}
	want := []client.CacheOptionsEntry{
		{Type: "registry", Attrs: map[string]string{"ref": "ghcr.io/a/b:cache"}},
		{Type: "local", Attrs: map[string]string{"src": "/tmp/c"}},
		{Type: "gha", Attrs: map[string]string{"scope": "x", "url": gha.URL, "url_v2": gha.URLv2, "token": "tok", "version": "2"}},
	}
	for i := range want {
		if imports[i].Type != want[i].Type || !maps.Equal(imports[i].Attrs, want[i].Attrs) {
			t.Errorf("import %d = %+v, want %+v", i, imports[i], want[i])
		}
	}
	exports, err := cacheEntries([]attrs.Entry{"type=registry,ref=r:c,mode=max", "type=inline", "type=registry,ref=r:d,ignore-error=false"}, true, GHACache{})
	if err != nil {
		t.Fatal(err)
	}
	if exports[0].Attrs["ignore-error"] != "true" || exports[1].Attrs["ignore-error"] != "" || exports[2].Attrs["ignore-error"] != "false" {
		t.Errorf("exports = %+v: cache export errors should be warnings unless asked otherwise", exports)
	}
	if _, err := cacheEntries([]attrs.Entry{"type=gha"}, true, GHACache{}); err == nil {
		t.Error("type=gha outside GitHub Actions: want an error naming ACTIONS_RUNTIME_TOKEN")
	}
}

func TestAttestationAttrs(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{{"false", "", false}, {"true", "mode=min", true}, {"mode=max", "mode=max", true}, {"", "", false}} {
		if got, ok := provenanceAttr(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("provenanceAttr(%q) = %q, %v", tc.in, got, ok)
		}
	}
	for _, tc := range []struct {
		in, gen, want string
		ok            bool
	}{{"false", "", "", false}, {"true", "", "", true}, {"true", "reg/gen:1", "generator=reg/gen:1", true}, {"generator=x", "", "generator=x", true}} {
		if got, ok := sbomAttr(tc.in, tc.gen); got != tc.want || ok != tc.ok {
			t.Errorf("sbomAttr(%q, %q) = %q, %v", tc.in, tc.gen, got, ok)
		}
	}
}

func TestAnnotationAttrs(t *testing.T) {
	in := []meta.Annotation{
		{Level: "manifest", Key: "org.opencontainers.image.title", Value: "app"},
		{Level: "index", Key: "org.opencontainers.image.version", Value: "1.0"},
		{Level: "manifest", Key: "plain", Value: "x"},
	}
	got := annotationAttrs(in, true)
	want := map[string]string{
		"annotation-manifest.org.opencontainers.image.title": "app",
		"annotation-index.org.opencontainers.image.version":  "1.0",
		"annotation-manifest.plain":                          "x",
	}
	if !maps.Equal(got, want) {
		t.Errorf("annotationAttrs = %v, want %v", got, want)
	}
	if _, ok := annotationAttrs(in, false)["annotation-index.org.opencontainers.image.version"]; ok {
		t.Error("an index annotation kept for a result without an index")
	}
}

func TestStepsCountsDockerfileStepsOnce(t *testing.T) {
	now := time.Now()
	v := func(d, name string, cached bool) *client.Vertex {
		return &client.Vertex{Digest: digest.Digest(d), Name: name, Completed: &now, Cached: cached}
	}
	var s Steps
	s.observe(&client.SolveStatus{Vertexes: []*client.Vertex{
		v("a", "[internal] load build definition from Dockerfile", false),
		v("b", "[build 1/3] FROM docker.io/library/busybox", false),
		v("c", "[build 2/3] RUN make", true),
		v("d", "[stage-1 2/2] COPY --from=build /x /x", false),
		{Digest: "e", Name: "[3/3] RUN still running"},
	}})
	s.observe(&client.SolveStatus{Vertexes: []*client.Vertex{v("c", "[build 2/3] RUN make", true)}})
	if s.Total != 2 || s.Cached != 1 {
		t.Errorf("steps = %d, cached %d; want 2, 1", s.Total, s.Cached)
	}
}

// A node's registry cache gets its platforms in the tag, so that nodes
// do not overwrite each other's cache manifest; other caches, and
// references by digest, are kept.
func TestNodeCache(t *testing.T) {
	got := nodeCache([]attrs.Entry{
		"registry.example.com/app:buildcache",
		"type=registry,ref=registry.example.com/app,mode=max",
		attrs.Entry("type=registry,ref=registry.example.com/app@sha256:" + strings.Repeat("a", 64)),
		"type=gha,scope=app",
		"type=local,src=/cache",
	}, []string{"linux/arm64", "linux/arm/v7"})
	want := []attrs.Entry{
		"ref=registry.example.com/app:buildcache-linux-arm64_linux-arm-v7,type=registry",
		"mode=max,ref=registry.example.com/app:linux-arm64_linux-arm-v7,type=registry",
		attrs.Entry("type=registry,ref=registry.example.com/app@sha256:" + strings.Repeat("a", 64)),
		"type=gha,scope=app",
		"type=local,src=/cache",
	}
	if !slices.Equal(got, want) {
		t.Errorf("nodeCache =\n%q\nwant\n%q", got, want)
	}
}
