package registry

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestKeychainOrder(t *testing.T) {
	k := NewKeychain([]Credential{
		{Registry: "ghcr.io", Username: "alice", Password: "pw1", Source: "registry-auth input"},
		{Registry: "docker.io", Username: "bob", Password: "pw2", Source: "registry-auth input"},
		{Registry: "ghcr.io", Username: "actor", Password: "token", Source: "GITHUB_TOKEN"},
		{Registry: "registry.gitlab.com", Username: "gitlab-ci-token", Password: "jt", Source: "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"},
	}, authn.NewMultiKeychain())
	for host, want := range map[string]string{
		"ghcr.io":             "alice", // the input wins over the platform
		"index.docker.io":     "bob",   // docker.io is Docker Hub
		"registry.gitlab.com": "gitlab-ci-token",
	} {
		reg, _ := name.NewRegistry(host)
		a, err := k.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := a.Authorization()
		if cfg.Username != want {
			t.Errorf("%s: user %q, want %q", host, cfg.Username, want)
		}
	}
	if d := k.Describe("registry.gitlab.com"); !strings.Contains(d, "CI_REGISTRY_USER") || strings.Contains(d, "jt") {
		t.Errorf("Describe = %q: want the source, never the password", d)
	}
	if d := k.Describe("quay.io"); !strings.Contains(d, "anonymous") {
		t.Errorf("Describe(quay.io) = %q, want anonymous", d)
	}
}

// flaky answers 503 with Retry-After to the first manifest PUT, then
// passes everything to the registry; it counts the PUTs.
type flaky struct {
	next http.Handler
	puts atomic.Int32
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && f.puts.Add(1) == 1 {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	f.next.ServeHTTP(w, r)
}

// A push from the layout leaves the digest and no tag, and retries a
// manifest PUT answered 503.
func TestUploadByDigestOnly(t *testing.T) {
	f := &flaky{next: quietRegistry()}
	host := serve(t, f)

	dir, dgst := randomLayout(t, 256)
	k := NewKeychain(nil, authn.NewMultiKeychain())
	repos := []string{host + "/team/app", host + "/mirror/app"}
	for _, repo := range repos {
		pushLayout(t, k, dir, dgst, repo)
	}
	for _, repo := range repos {
		ref, _ := name.NewDigest(repo + "@" + dgst.String())
		got, err := remote.Index(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if gd, _ := got.Digest(); gd != dgst {
			t.Errorf("%s has digest %s", repo, gd)
		}
		r, _ := name.NewRepository(repo)
		if tags, err := remote.List(r); err != nil || len(tags) != 0 {
			t.Errorf("%s: tags %q (%v), want none", repo, tags, err)
		}
	}
	// 2 images + 1 index per repository, plus the PUT that got the 503.
	if n := f.puts.Load(); n != 7 {
		t.Errorf("%d manifest PUTs, want 7 (one retried)", n)
	}
}
