package prune

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// GitLab is GitLab's container registry: read, and manifests deleted by
// digest, through the distribution API (OCI); repositories listed and
// tags deleted alone through GitLab's container registry API
// (https://docs.gitlab.com/api/container_registry/), since GitLab's
// registry has no catalog for a token and deletes a tag alone only
// there.
type GitLab struct {
	*OCI
	// APIURL is the v4 API's root (CI_API_V4_URL:
	// https://gitlab.example.com/api/v4).
	APIURL string
	// Token is a personal, project or group access token (PRIVATE-TOKEN);
	// JobToken a CI job's (JOB-TOKEN), which reaches its project's
	// registry only.
	Token    string
	JobToken bool
	Client   *http.Client

	mu sync.Mutex
	// repos are the registry repositories found, by location.
	repos map[string]glRepo
}

// glRepo is a registry repository as GitLab's API lists it.
type glRepo struct {
	ID        int64  `json:"id"`
	ProjectID int64  `json:"project_id"`
	Path      string `json:"path"`
	Location  string `json:"location"`
}

func (g *GitLab) api() *api {
	return &api{client: g.Client, auth: func(r *http.Request) {
		if g.JobToken {
			r.Header.Set("JOB-TOKEN", g.Token)
			return
		}
		r.Header.Set("PRIVATE-TOKEN", g.Token)
	}}
}

func (g *GitLab) root() string { return strings.TrimSuffix(g.APIURL, "/") }

// listIn lists the registry repositories of a group (or, when no group
// has that path, a project) and remembers them.
func (g *GitLab) listIn(ctx context.Context, path string) ([]glRepo, error) {
	if g.Token == "" {
		return nil, fmt.Errorf("listing the registry repositories of %s: %w: set SLIPWAY_GITLAB_TOKEN to an access token with the api scope (or run in a GitLab job: CI_JOB_TOKEN)", path, errNoToken)
	}
	var rs []glRepo
	var err error
	for _, kind := range []string{"groups", "projects"} {
		rs, err = list[glRepo](ctx, g.api(), fmt.Sprintf("%s/%s/%s/registry/repositories?per_page=100", g.root(), kind, url.PathEscape(path)))
		// A job token is refused a group's (403).
		if !isStatus(err, http.StatusNotFound) && !isStatus(err, http.StatusForbidden) {
			break
		}
	}
	if isStatus(err, http.StatusNotFound) || (isStatus(err, http.StatusForbidden) && g.JobToken) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the registry repositories of %s: %w", path, err)
	}
	g.mu.Lock()
	if g.repos == nil {
		g.repos = map[string]glRepo{}
	}
	for _, r := range rs {
		g.repos[r.Location] = r
	}
	g.mu.Unlock()
	return rs, nil
}

// Repositories lists the registry repositories of the group (or
// project) that prefix names: the literal path before the pattern's
// first wildcard, up to its last "/".
func (g *GitLab) Repositories(ctx context.Context, reg name.Registry, prefix string) ([]name.Repository, error) {
	path := strings.TrimSuffix(prefix[:strings.LastIndex(prefix, "/")+1], "/")
	if path == "" {
		return nil, fmt.Errorf("listing the repositories of %s: write the group out (%s/<group>/<pattern>): GitLab lists registry repositories per group or project", reg, reg)
	}
	rs, err := g.listIn(ctx, path)
	if err != nil {
		return nil, err
	}
	var out []name.Repository
	for _, r := range rs {
		repo, err := name.NewRepository(r.Location, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("listing the registry repositories of %s: %w", path, err)
		}
		if repo.RegistryStr() == reg.RegistryStr() {
			out = append(out, repo)
		}
	}
	return out, nil
}

// find returns repo's ids, listing the projects (then groups) its path
// may belong to, longest first, when it was not listed yet.
func (g *GitLab) find(ctx context.Context, repo name.Repository) (glRepo, error) {
	g.mu.Lock()
	r, ok := g.repos[repo.Name()]
	g.mu.Unlock()
	if ok {
		return r, nil
	}
	segs := strings.Split(repo.RepositoryStr(), "/")
	for i := len(segs); i >= 1; i-- {
		if _, err := g.listIn(ctx, strings.Join(segs[:i], "/")); err != nil {
			return glRepo{}, err
		}
		g.mu.Lock()
		r, ok = g.repos[repo.Name()]
		g.mu.Unlock()
		if ok {
			return r, nil
		}
	}
	return glRepo{}, fmt.Errorf("%s: no GitLab project lists it as a registry repository", repo)
}

// DeleteTag deletes t alone through GitLab's API.
func (g *GitLab) DeleteTag(ctx context.Context, t name.Tag) error {
	r, err := g.find(ctx, t.Context())
	if err != nil {
		return fmt.Errorf("deleting the tag %s: %w", t, err)
	}
	u := fmt.Sprintf("%s/projects/%d/registry/repositories/%d/tags/%s", g.root(), r.ProjectID, r.ID, url.PathEscape(t.TagStr()))
	if _, err := g.api().do(ctx, http.MethodDelete, u, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("deleting the tag %s: %w", t, err)
	}
	return nil
}
