package prune

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/ci/citest"
)

// hostedRepo is what pushHosted put in a repository of a hosted fake.
type hostedRepo struct {
	repo name.Repository
	// old (v1.0.0) and its .sig, mid (v1.1.0, also tagged "old-mid"),
	// top (v1.2.0: an index of two platforms), loose (pushed by digest).
	old, oldSig, mid, top, loose v1.Hash
	platforms                    []v1.Hash
}

func pushHosted(t *testing.T, repo name.Repository) *hostedRepo {
	t.Helper()
	image := func() v1.Image {
		t.Helper()
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	digest := func(d interface{ Digest() (v1.Hash, error) }) v1.Hash {
		t.Helper()
		h, err := d.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	put := func(ref name.Reference, img v1.Image) v1.Hash {
		t.Helper()
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		return digest(img)
	}
	r := &hostedRepo{repo: repo}
	r.old = put(repo.Tag("v1.0.0"), image())
	r.oldSig = put(repo.Tag("sha256-"+r.old.Hex+".sig"), image())
	mid := image()
	r.mid = put(repo.Tag("v1.1.0"), mid)
	put(repo.Tag("old-mid"), mid)
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img := image()
		r.platforms = append(r.platforms, digest(img))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: arch},
		}})
	}
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	if err := remote.WriteIndex(repo.Tag("v1.2.0"), idx); err != nil {
		t.Fatal(err)
	}
	r.top = digest(idx)
	loose := image()
	r.loose = put(repo.Digest(digest(loose).String()), loose)
	return r
}

// lastTwo keeps the two highest versions of the repositories under
// owner: v1.2.0 and v1.1.0; v1.0.0 goes with its signature, and so does
// "old-mid" (the tag alone: v1.1.0 keeps its digest).
func lastTwo(t *testing.T, host, owner string) *Policy {
	p, err := ReadPolicy([]byte("rules:\n- repositories: [" + host + "/" + owner + "/*]\n  last: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func planned(p *Plan) (digests []v1.Hash, tags []string) {
	for _, rp := range p.Repositories {
		for _, d := range rp.Delete {
			digests = append(digests, d.Digest)
		}
		tags = append(tags, rp.Deleted...)
	}
	slices.SortFunc(digests, func(a, b v1.Hash) int { return compareHash(a, b) })
	slices.Sort(tags)
	return digests, tags
}

func compareHash(a, b v1.Hash) int {
	switch {
	case a.String() < b.String():
		return -1
	case a.String() > b.String():
		return 1
	}
	return 0
}

func sortedHashes(hs ...v1.Hash) []v1.Hash {
	hs = slices.Clone(hs)
	slices.SortFunc(hs, compareHash)
	return hs
}

func versionDigests(vs []citest.HostedVersion) []v1.Hash {
	var out []v1.Hash
	for _, v := range vs {
		h, _ := v1.NewHash(v.Digest)
		out = append(out, h)
	}
	slices.SortFunc(out, compareHash)
	return out
}

// TestGitHubPackages prunes a GHCR package through GitHub's Packages
// API, an organization's and a user's: the untagged versions that only
// its API lists are deleted unless a kept tag reaches them (a kept
// index's platforms), a deleted version takes its tags, and a tag whose
// digest a kept tag reaches stays (GHCR deletes no tag alone).
func TestGitHubPackages(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, org := range []bool{true, false} {
		name := "user"
		if org {
			name = "org"
		}
		t.Run(name, func(t *testing.T) {
			ghcr := citest.NewFakeGHCR(t, "acme", org, "ghs_token", func() time.Time { return now })
			ghcr.PerPage = 3
			repo, err := nameRepo(ghcr.Host() + "/acme/app")
			if err != nil {
				t.Fatal(err)
			}
			r := pushHosted(t, repo)
			gh := &GitHub{OCI: &OCI{}, APIURL: ghcr.APIURL(), Token: "ghs_token"}
			opts := Options{Policy: lastTwo(t, ghcr.Host(), "acme"), Registry: ByHost{Default: &OCI{}, Hosts: map[string]Registry{ghcr.Host(): gh}}, Now: func() time.Time { return now }, Log: io.Discard}

			plan, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			digests, tags := planned(plan)
			if want := sortedHashes(r.old, r.oldSig, r.loose); !slices.Equal(digests, want) {
				t.Errorf("planned deletes %v, want v1.0.0, its .sig and the untagged version %v", digests, want)
			}
			if want := []string{"old-mid", "v1.0.0"}; !slices.Equal(tags, want) {
				t.Errorf("planned tag deletes %q, want %q", tags, want)
			}
			if len(ghcr.Deletes()) != 0 {
				t.Fatalf("the plan deleted %q", ghcr.Deletes())
			}

			opts.Yes = true
			plan, err = Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			kept := sortedHashes(append([]v1.Hash{r.mid, r.top}, r.platforms...)...)
			if got := versionDigests(ghcr.Versions("app")); !slices.Equal(got, kept) {
				t.Errorf("versions left %v, want v1.1.0, v1.2.0 and its platforms %v", got, kept)
			}
			if got := plan.Repositories[0].Undeleted; !slices.Equal(got, []string{"old-mid"}) {
				t.Errorf("tags not deleted %q, want old-mid (GHCR deletes no tag alone)", got)
			}
			for _, tag := range []string{"v1.1.0", "old-mid", "v1.2.0"} {
				if _, err := remote.Head(repo.Tag(tag)); err != nil {
					t.Errorf("kept %s: %v", tag, err)
				}
			}
			for _, d := range r.platforms {
				if _, err := remote.Head(repo.Digest(d.String())); err != nil {
					t.Errorf("kept platform %s: %v", d, err)
				}
			}
		})
	}
}

// TestGitLabRegistry prunes a GitLab project's registry repository: the
// repositories listed per group through GitLab's API, a tag whose
// digest a kept tag reaches deleted alone through that API, manifests
// through the distribution API.
func TestGitLabRegistry(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	gl := citest.NewFakeGitLabRegistry(t, "acme", "glpat-token", func() time.Time { return now })
	repo, err := nameRepo(gl.Host() + "/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	r := pushHosted(t, repo)
	backend := &GitLab{OCI: &OCI{}, APIURL: gl.APIURL(), Token: "glpat-token"}
	opts := Options{Policy: lastTwo(t, gl.Host(), "acme"), Registry: ByHost{Default: &OCI{}, Hosts: map[string]Registry{gl.Host(): backend}}, Now: func() time.Time { return now }, Log: io.Discard, Yes: true}
	plan, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Repositories) != 1 || plan.Repositories[0].Repository.String() != repo.String() {
		t.Fatalf("repositories %v, want %s listed through GitLab's API", plan.Repositories, repo)
	}
	if got := plan.Repositories[0].Undeleted; len(got) != 0 {
		t.Errorf("tags not deleted %q, want none (GitLab's API deletes a tag alone)", got)
	}
	// The distribution API lists no untagged manifest: the loose one stays.
	kept := sortedHashes(append([]v1.Hash{r.mid, r.top, r.loose}, r.platforms...)...)
	if got := versionDigests(gl.Versions("acme/app")); !slices.Equal(got, kept) {
		t.Errorf("manifests left %v, want v1.1.0, v1.2.0, its platforms and the untagged one %v", got, kept)
	}
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags)
	if want := []string{"v1.1.0", "v1.2.0"}; !slices.Equal(tags, want) {
		t.Errorf("tags left %q, want %q", tags, want)
	}
	wantReq := "DELETE /projects/42/registry/repositories/100/tags/old-mid"
	if !slices.Contains(gl.Requests(), wantReq) {
		t.Errorf("API requests %q, want %q among them", gl.Requests(), wantReq)
	}

	// A CI job's token reaches its project only: the repository named
	// out, its tag deleted alone through the project's endpoint.
	job := &GitLab{OCI: &OCI{}, APIURL: gl.APIURL(), Token: "glpat-token", JobToken: true}
	if err := remote.Tag(repo.Tag("extra"), must(remote.Image(repo.Digest(r.mid.String())))); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPolicy([]byte("rules:\n- repositories: [" + repo.String() + "]\n  include: [\"v*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts = Options{Policy: p, Registry: ByHost{Hosts: map[string]Registry{gl.Host(): job}}, Now: func() time.Time { return now }, Log: io.Discard, Yes: true}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("with a job token: %v", err)
	}
	if tags, err := remote.List(repo); err != nil || slices.Contains(tags, "extra") {
		t.Errorf("with a job token: tags left %q (%v), want extra deleted", tags, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func nameRepo(s string) (name.Repository, error) { return name.NewRepository(s, name.StrictValidation) }
