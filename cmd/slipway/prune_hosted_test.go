package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/ci/citest"
)

// pushVersions pushes v1.0.0, v1.1.0 (also tagged "old-mid"), v1.2.0
// and an untagged image to repo; it returns their digests by those
// names ("untagged" for the last).
func pushVersions(t *testing.T, repo string) map[string]v1.Hash {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Hash{}
	for _, n := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "untagged"} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		var ref name.Reference = r.Tag(n)
		if n == "untagged" {
			ref = r.Digest(d.String())
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if n == "v1.1.0" {
			if err := remote.Write(r.Tag("old-mid"), img); err != nil {
				t.Fatal(err)
			}
		}
		out[n] = d
	}
	return out
}

func digestsOf(vs []citest.HostedVersion) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Digest)
	}
	slices.Sort(out)
	return out
}

func hashStrings(hs ...v1.Hash) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.String())
	}
	slices.Sort(out)
	return out
}

// TestPruneHostedAPIs runs slipway prune on GHCR through GitHub's
// Packages API and on GitLab's registry through GitLab's API, each with
// its token from the environment as its CI sets it: the policy's
// deletes land, the token is in no output, and a missing token or an
// unknown --api is said.
func TestPruneHostedAPIs(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC) }
	const token = "ghs_pruneTokenNeverPrinted"

	t.Run("github", func(t *testing.T) {
		ghcr := citest.NewFakeGHCR(t, "acme", true, token, now)
		d := pushVersions(t, ghcr.Host()+"/acme/app")
		args := []string{"prune", "--api", "github", "--repository", ghcr.Host() + "/acme/*", "--keep-last", "2", "--yes"}

		r := slipway(t, t.TempDir(), map[string]string{"GITHUB_API_URL": ghcr.APIURL()}, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "GITHUB_TOKEN") || len(ghcr.Deletes()) != 0 {
			t.Fatalf("without a token: exit %d, deleted %q; want 1, a message naming GITHUB_TOKEN, nothing deleted\n%s", r.code, ghcr.Deletes(), r.stderr)
		}

		r = slipway(t, t.TempDir(), map[string]string{"GITHUB_API_URL": ghcr.APIURL(), "GITHUB_TOKEN": token}, args...)
		if r.code != 0 {
			t.Fatalf("slipway prune --api github: exit %d\n%s", r.code, r.stderr)
		}
		if got, want := digestsOf(ghcr.Versions("app")), hashStrings(d["v1.1.0"], d["v1.2.0"]); !slices.Equal(got, want) {
			t.Errorf("versions left %q, want v1.1.0's and v1.2.0's %q (v1.0.0 and the untagged one deleted)", got, want)
		}
		if !strings.Contains(r.stdout, "not deleted: the registry deletes no tag alone") {
			t.Errorf("the plan does not say old-mid stays (GHCR deletes no tag alone):\n%s", r.stdout)
		}
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Error("the token is in slipway's output")
		}
	})

	t.Run("gitlab", func(t *testing.T) {
		gl := citest.NewFakeGitLabRegistry(t, "acme", token, now)
		d := pushVersions(t, gl.Host()+"/acme/app")
		r := slipway(t, t.TempDir(), map[string]string{"CI_API_V4_URL": gl.APIURL(), "SLIPWAY_GITLAB_TOKEN": token},
			"prune", "--api", "gitlab", "--repository", gl.Host()+"/acme/*", "--keep-last", "2", "--yes")
		if r.code != 0 {
			t.Fatalf("slipway prune --api gitlab: exit %d\n%s", r.code, r.stderr)
		}
		// The distribution API lists no untagged manifest: it stays.
		if got, want := digestsOf(gl.Versions("acme/app")), hashStrings(d["v1.1.0"], d["v1.2.0"], d["untagged"]); !slices.Equal(got, want) {
			t.Errorf("manifests left %q, want %q", got, want)
		}
		var tags []string
		for _, v := range gl.Versions("acme/app") {
			tags = append(tags, v.Tags...)
		}
		slices.Sort(tags)
		if want := []string{"v1.1.0", "v1.2.0"}; !slices.Equal(tags, want) {
			t.Errorf("tags left %q, want %q (old-mid deleted alone through GitLab's API)", tags, want)
		}
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Error("the token is in slipway's output")
		}
	})

	t.Run("unknown api", func(t *testing.T) {
		r := slipway(t, t.TempDir(), nil, "prune", "--api", "harbor", "--repository", "registry.test/acme/*", "--keep-last", "2")
		if r.code != 2 || !strings.Contains(r.stderr, "api") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("--api harbor: exit %d, stderr %q; want 2 and one line naming api", r.code, r.stderr)
		}
	})
}
