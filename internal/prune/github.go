package prune

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GitHub is GHCR, read through the distribution API (OCI) and deleted
// through GitHub's Packages API, where every manifest pushed is a package
// version named by its digest, tagged or not. Deleting a version deletes
// the manifest and its tags; no tag is deleted alone (ErrTagDelete), so a
// tag whose digest a kept tag reaches stays. The versions list untagged
// manifests the distribution API cannot: each one nothing kept reaches is
// deleted, its platform manifests, signatures and referrers with it, as
// is a part-way run's leftover elsewhere.
type GitHub struct {
	*OCI
	// APIURL is the REST API's root: https://api.github.com, or a GHES
	// one (https://ghes.example.com/api/v3).
	APIURL string
	Token  string
	Client *http.Client

	mu sync.Mutex
	// owners says, per owner, whether it is an organization ("orgs") or
	// a user ("users"), as its first answer showed.
	owners map[string]string
	// versions are each repository's package versions by digest.
	versions map[string]map[v1.Hash]int64
}

type ghVersion struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"` // the manifest's digest
	Metadata struct {
		Container struct {
			Tags []string `json:"tags"`
		} `json:"container"`
	} `json:"metadata"`
}

func (g *GitHub) api() *api {
	return &api{client: g.Client, auth: func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+g.Token)
		r.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	}}
}

// ghPackage splits a GHCR repository into its owner and its package
// name (the rest of the path).
func ghPackage(repo name.Repository) (owner, pkg string, err error) {
	owner, pkg, ok := strings.Cut(repo.RepositoryStr(), "/")
	if !ok {
		return "", "", fmt.Errorf("%s is not <registry>/<owner>/<package>", repo)
	}
	return owner, pkg, nil
}

// ownerKind finds whether owner is an organization or a user: GET
// /orgs/<owner> is 404 for a user.
func (g *GitHub) ownerKind(ctx context.Context, owner string) (string, error) {
	g.mu.Lock()
	kind, ok := g.owners[owner]
	g.mu.Unlock()
	if ok {
		return kind, nil
	}
	if g.Token == "" {
		return "", fmt.Errorf("reading GitHub's packages of %s: %w: set GITHUB_TOKEN (or SLIPWAY_GITHUB_TOKEN) to a token with read:packages and delete:packages", owner, errNoToken)
	}
	_, err := g.api().do(ctx, http.MethodGet, fmt.Sprintf("%s/orgs/%s", g.root(), url.PathEscape(owner)), nil)
	switch {
	case err == nil:
		kind = "orgs"
	case isStatus(err, http.StatusNotFound):
		kind = "users"
	default:
		return "", fmt.Errorf("reading GitHub's packages of %s: %w", owner, err)
	}
	g.mu.Lock()
	if g.owners == nil {
		g.owners = map[string]string{}
	}
	g.owners[owner] = kind
	g.mu.Unlock()
	return kind, nil
}

func (g *GitHub) root() string { return strings.TrimSuffix(g.APIURL, "/") }

// Repositories lists the container packages of the owner prefix names
// (ghcr.io/<owner>/…: GHCR has no catalog).
func (g *GitHub) Repositories(ctx context.Context, reg name.Registry, prefix string) ([]name.Repository, error) {
	owner, _, ok := strings.Cut(prefix, "/")
	if !ok || owner == "" {
		return nil, fmt.Errorf("listing the packages of %s: write the owner out (%s/<owner>/<pattern>): GitHub lists packages per owner", reg, reg)
	}
	kind, err := g.ownerKind(ctx, owner)
	if err != nil {
		return nil, err
	}
	q := "?package_type=container&per_page=100"
	pkgs, err := list[struct {
		Name string `json:"name"`
	}](ctx, g.api(), fmt.Sprintf("%s/%s/%s/packages%s", g.root(), kind, url.PathEscape(owner), q))
	if err != nil {
		return nil, fmt.Errorf("listing the packages of %s: %w", owner, err)
	}
	var out []name.Repository
	for _, p := range pkgs {
		r, err := name.NewRepository(reg.Name()+"/"+owner+"/"+p.Name, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("listing the packages of %s: %w", owner, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// versionsURL is where repo's package versions are.
func (g *GitHub) versionsURL(ctx context.Context, repo name.Repository) (string, error) {
	owner, pkg, err := ghPackage(repo)
	if err != nil {
		return "", err
	}
	kind, err := g.ownerKind(ctx, owner)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%s/%s/packages/container/%s/versions", g.root(), kind, url.PathEscape(owner), url.PathEscape(pkg)), nil
}

// listVersions reads repo's package versions; the untagged ones are
// returned.
func (g *GitHub) listVersions(ctx context.Context, repo name.Repository) ([]v1.Hash, error) {
	u, err := g.versionsURL(ctx, repo)
	if err != nil {
		return nil, err
	}
	if strings.Contains(u, "/orgs/") {
		u += "?per_page=100" // the users' listing takes no paging parameters
	}
	vs, err := list[ghVersion](ctx, g.api(), u)
	if isStatus(err, http.StatusNotFound) {
		vs, err = nil, nil // no such package (yet)
	}
	if err != nil {
		return nil, fmt.Errorf("listing the versions of %s: %w", repo, err)
	}
	byDigest := map[v1.Hash]int64{}
	var untagged []v1.Hash
	for _, v := range vs {
		h, err := v1.NewHash(v.Name)
		if err != nil {
			continue // not a container version
		}
		byDigest[h] = v.ID
		if len(v.Metadata.Container.Tags) == 0 {
			untagged = append(untagged, h)
		}
	}
	g.mu.Lock()
	if g.versions == nil {
		g.versions = map[string]map[v1.Hash]int64{}
	}
	g.versions[repo.String()] = byDigest
	g.mu.Unlock()
	return untagged, nil
}

// Read reads repo through the distribution API, with its untagged
// versions (and pending) as candidates.
func (g *GitHub) Read(ctx context.Context, repo name.Repository, pending []v1.Hash) (*Snapshot, error) {
	untagged, err := g.listVersions(ctx, repo)
	if err != nil {
		return nil, err
	}
	return g.OCI.Read(ctx, repo, append(pending, untagged...))
}

// Delete deletes the package version of d, with its tags.
func (g *GitHub) Delete(ctx context.Context, d name.Digest) error {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return err
	}
	repo := d.Context()
	id, ok := g.versionID(repo, h)
	if !ok {
		if _, err := g.listVersions(ctx, repo); err != nil {
			return err
		}
		if id, ok = g.versionID(repo, h); !ok {
			return nil // gone already
		}
	}
	u, err := g.versionsURL(ctx, repo)
	if err != nil {
		return err
	}
	_, err = g.api().do(ctx, http.MethodDelete, fmt.Sprintf("%s/%d", u, id), nil)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("deleting %s (package version %d): %w", d, id, err)
	}
	return nil
}

// versionID is the package version of h in repo, as last listed.
func (g *GitHub) versionID(repo name.Repository, h v1.Hash) (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, ok := g.versions[repo.String()][h]
	return id, ok
}

// DeleteTag cannot: GitHub deletes versions, with all their tags.
func (g *GitHub) DeleteTag(_ context.Context, t name.Tag) error {
	return fmt.Errorf("deleting the tag %s: %w (GitHub's Packages API deletes package versions, with every tag on them)", t, ErrTagDelete)
}
