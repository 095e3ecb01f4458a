package citest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// HostedVersion is one manifest a hosted registry holds, as its API
// lists it: GHCR's package version, GitLab's manifest behind its tags.
type HostedVersion struct {
	ID      int64
	Repo    string // the repository's path
	Digest  string
	Tags    []string
	Created time.Time
}

// hosted is a hosted registry's storage: go-containerregistry's registry
// (with the referrers API) whose every manifest push is recorded as a
// version, so that its API can list untagged manifests, and delete a
// manifest with its tags, as GHCR and GitLab do.
type hosted struct {
	reg     http.Handler
	mu      sync.Mutex
	nextID  int64
	now     func() time.Time
	byRepo  map[string][]*HostedVersion
	deletes []string // "repo@digest" or "repo:tag", as the API deleted them
}

func newHosted(now func() time.Time) *hosted {
	return &hosted{reg: registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))), nextID: 10000, now: now, byRepo: map[string][]*HostedVersion{}}
}

var manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

// serveRegistry serves the distribution API, recording manifest pushes;
// a DELETE of a manifest by digest deletes its tags too when withTags (a
// registry whose API lists tags by manifest: GitLab's), and is refused
// with 405 otherwise (GHCR deletes through its Packages API only).
func (h *hosted) serveRegistry(w http.ResponseWriter, r *http.Request, deletes bool) {
	m := manifestPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		h.reg.ServeHTTP(w, r)
		return
	}
	repo, ref := m[1], m[2]
	switch r.Method {
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.reg.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			sum := sha256.Sum256(body)
			h.record(repo, "sha256:"+hex.EncodeToString(sum[:]), ref)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	case http.MethodDelete:
		if !deletes {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`)
			return
		}
		if !strings.HasPrefix(ref, "sha256:") {
			h.reg.ServeHTTP(w, r) // a tag alone
			h.untag(repo, ref)
			return
		}
		if !h.deleteVersion(repo, ref) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		h.reg.ServeHTTP(w, r)
	}
}

// record makes digest a version of repo (once) and moves ref to it when
// ref is a tag.
func (h *hosted) record(repo, digest, ref string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var v *HostedVersion
	for _, x := range h.byRepo[repo] {
		if x.Digest == digest {
			v = x
		}
		if ref != digest {
			x.Tags = slices.DeleteFunc(x.Tags, func(t string) bool { return t == ref })
		}
	}
	if v == nil {
		h.nextID++
		v = &HostedVersion{ID: h.nextID, Repo: repo, Digest: digest, Created: h.now()}
		h.byRepo[repo] = append(h.byRepo[repo], v)
	}
	if ref != digest {
		v.Tags = append(v.Tags, ref)
	}
}

func (h *hosted) untag(repo, tag string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.byRepo[repo] {
		v.Tags = slices.DeleteFunc(v.Tags, func(t string) bool { return t == tag })
	}
}

// deleteVersion deletes repo's manifest digest and every tag on it from
// the registry; false when there is no such version.
func (h *hosted) deleteVersion(repo, digest string) bool {
	h.mu.Lock()
	i := slices.IndexFunc(h.byRepo[repo], func(v *HostedVersion) bool { return v.Digest == digest })
	if i < 0 {
		h.mu.Unlock()
		return false
	}
	v := h.byRepo[repo][i]
	h.byRepo[repo] = slices.Delete(h.byRepo[repo], i, i+1)
	h.deletes = append(h.deletes, repo+"@"+digest)
	h.mu.Unlock()
	for _, ref := range append(slices.Clone(v.Tags), digest) {
		req := httptest.NewRequest(http.MethodDelete, "/v2/"+repo+"/manifests/"+ref, nil)
		h.reg.ServeHTTP(httptest.NewRecorder(), req)
	}
	return true
}

// Versions are repo's versions, oldest first.
func (h *hosted) versions(repo string) []HostedVersion {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []HostedVersion
	for _, v := range h.byRepo[repo] {
		c := *v
		c.Tags = slices.Clone(v.Tags)
		out = append(out, c)
	}
	return out
}

func (h *hosted) repos() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for r, vs := range h.byRepo {
		if len(vs) > 0 {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// FakeGHCR is GHCR as slipway prune meets it: the distribution API
// (reads and pushes; DELETE refused, as GHCR does) and, under /api,
// GitHub's Packages API over the recorded versions for one owner, every
// request checked against GitHub's OpenAPI description.
type FakeGHCR struct {
	*httptest.Server
	t   *testing.T
	api *GitHubAPI
	h   *hosted
	// Owner owns every package; Org says it is an organization.
	Owner string
	Org   bool
	token string
	// PerPage is the versions' page size when the request sets none
	// (GitHub's default, 30).
	PerPage int
}

// NewFakeGHCR starts the fake for owner; its API takes token only.
func NewFakeGHCR(t *testing.T, owner string, org bool, token string, now func() time.Time) *FakeGHCR {
	f := &FakeGHCR{t: t, api: LoadGitHubAPI(t), h: newHosted(now), Owner: owner, Org: org, token: token, PerPage: 30}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

// Host is the registry's host:port; APIURL the API's root.
func (f *FakeGHCR) Host() string   { return strings.TrimPrefix(f.URL, "http://") }
func (f *FakeGHCR) APIURL() string { return f.URL + "/api" }

// Versions are a package's versions; Deletes the versions deleted.
func (f *FakeGHCR) Versions(pkg string) []HostedVersion { return f.h.versions(f.Owner + "/" + pkg) }
func (f *FakeGHCR) Deletes() []string {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	return slices.Clone(f.h.deletes)
}

func (f *FakeGHCR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api")
	if !ok {
		f.h.serveRegistry(w, r, false)
		return
	}
	body, _ := io.ReadAll(r.Body)
	op, err := f.api.Check(r.Method, path, r.URL.Query(), body)
	if err != nil {
		f.t.Errorf("a request that GitHub's REST API does not describe: %v", err)
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	kind := "users"
	if f.Org {
		kind = "orgs"
	}
	if len(segs) < 2 || segs[1] != f.Owner || (segs[0] != kind && op.ID != "orgs/get") {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	var pkg string
	if len(segs) >= 5 {
		pkg, _ = url.PathUnescape(segs[4])
	}
	switch op.ID {
	case "orgs/get":
		if !f.Org {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		ghJSON(w, http.StatusOK, map[string]any{"login": f.Owner, "id": 1})
	case "packages/list-packages-for-organization", "packages/list-packages-for-user":
		var out []map[string]any
		for _, repo := range f.h.repos() {
			if name, ok := strings.CutPrefix(repo, f.Owner+"/"); ok && r.URL.Query().Get("package_type") == "container" {
				out = append(out, map[string]any{"id": len(out) + 1, "name": name, "package_type": "container"})
			}
		}
		ghJSON(w, http.StatusOK, out)
	case "packages/get-all-package-versions-for-package-owned-by-org", "packages/get-all-package-versions-for-package-owned-by-user":
		f.listVersions(w, r, pkg, op.ID == "packages/get-all-package-versions-for-package-owned-by-org")
	case "packages/delete-package-version-for-org", "packages/delete-package-version-for-user":
		id, _ := strconv.ParseInt(segs[6], 10, 64)
		for _, v := range f.h.versions(f.Owner + "/" + pkg) {
			if v.ID == id && f.h.deleteVersion(v.Repo, v.Digest) {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		ghError(w, http.StatusNotFound, "Package version not found")
	default:
		ghError(w, http.StatusNotFound, "Not Found")
	}
}

// listVersions pages pkg's versions newest first, as GitHub does; paged
// by the Link header where the operation takes page (the org's).
func (f *FakeGHCR) listVersions(w http.ResponseWriter, r *http.Request, pkg string, paged bool) {
	vs := f.h.versions(f.Owner + "/" + pkg)
	if len(vs) == 0 {
		ghError(w, http.StatusNotFound, "Package not found")
		return
	}
	slices.Reverse(vs)
	page, per := 1, f.PerPage
	if paged {
		if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 0 {
			page = p
		}
		if p, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && p > 0 {
			per = p
		}
	} else {
		per = len(vs)
	}
	lo, hi := min((page-1)*per, len(vs)), min(page*per, len(vs))
	if hi < len(vs) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, f.URL, r.URL.Path, q.Encode()))
	}
	out := []map[string]any{}
	for _, v := range vs[lo:hi] {
		out = append(out, map[string]any{
			"id": v.ID, "name": v.Digest, "url": f.URL + "/api/versions/" + strconv.FormatInt(v.ID, 10),
			"package_html_url": "https://github.com/" + f.Owner + "/packages", "created_at": v.Created.UTC().Format(time.RFC3339),
			"updated_at": v.Created.UTC().Format(time.RFC3339),
			"metadata":   map[string]any{"package_type": "container", "container": map[string]any{"tags": append([]string{}, v.Tags...)}},
		})
	}
	ghJSON(w, http.StatusOK, out)
}

// FakeGitLabRegistry is GitLab's container registry as slipway prune
// meets it: the distribution API (a DELETE by digest deletes the
// manifest's tags too, a DELETE of a tag alone is refused as by GitLab's
// registry) and, under /api/v4, the container registry API of one group
// and its project (42, <group>/app), every request checked against the
// documented endpoints (checkGitLabRequest).
type FakeGitLabRegistry struct {
	*httptest.Server
	t     *testing.T
	h     *hosted
	Group string
	token string
	ids   map[string]int64
	// requests are "METHOD path" of the API, in order.
	requests []string
}

// NewFakeGitLabRegistry starts the fake; its API takes token only, as
// an access token (PRIVATE-TOKEN) or a job's (JOB-TOKEN: its project's
// endpoints only, 403 elsewhere).
func NewFakeGitLabRegistry(t *testing.T, group, token string, now func() time.Time) *FakeGitLabRegistry {
	f := &FakeGitLabRegistry{t: t, h: newHosted(now), Group: group, token: token, ids: map[string]int64{}}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

// Host is the registry's host:port; APIURL the API's root.
func (f *FakeGitLabRegistry) Host() string   { return strings.TrimPrefix(f.URL, "http://") }
func (f *FakeGitLabRegistry) APIURL() string { return f.URL + "/api/v4" }

// Versions are a repository's manifests; Requests the API requests.
func (f *FakeGitLabRegistry) Versions(path string) []HostedVersion { return f.h.versions(path) }
func (f *FakeGitLabRegistry) Requests() []string {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *FakeGitLabRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4")
	if !ok {
		if m := manifestPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodDelete && !strings.HasPrefix(m[2], "sha256:") {
			w.WriteHeader(http.StatusMethodNotAllowed) // GitLab deletes a tag alone through its API
			return
		}
		f.h.serveRegistry(w, r, true)
		return
	}
	body, _ := io.ReadAll(r.Body)
	e, err := checkGitLabRequest(r.Method, path, r.URL.Query(), body)
	if err != nil {
		f.t.Errorf("a request GitLab's API documentation does not describe: %v", err)
	}
	f.h.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+path)
	f.h.mu.Unlock()
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Header.Get("PRIVATE-TOKEN") == f.token:
	case r.Header.Get("JOB-TOKEN") == f.token && segs[0] == "projects":
		// A job token reaches its own project's registry only.
	case r.Header.Get("JOB-TOKEN") == f.token:
		glJSON(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
		return
	default:
		glJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	owner, _ := url.PathUnescape(segs[1])
	project := f.Group + "/app"
	switch e.name {
	case "list registry repositories within a group", "list registry repositories within a project":
		if (segs[0] == "groups" && owner != f.Group) || (segs[0] == "projects" && owner != project && owner != "42") {
			glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
			return
		}
		out := []map[string]any{}
		for _, repo := range f.h.repos() {
			if repo != project && !strings.HasPrefix(repo, project+"/") {
				continue
			}
			out = append(out, map[string]any{
				"id": f.id(repo), "name": strings.TrimPrefix(strings.TrimPrefix(repo, project), "/"), "path": repo,
				"project_id": 42, "location": f.Host() + "/" + repo, "created_at": "2026-01-01T00:00:00Z",
			})
		}
		glJSON(w, http.StatusOK, out)
	case "delete a registry repository tag":
		id, _ := strconv.ParseInt(segs[4], 10, 64)
		tag, _ := url.PathUnescape(segs[6])
		for _, repo := range f.h.repos() {
			if f.id(repo) != id || (owner != "42" && owner != project) {
				continue
			}
			req := httptest.NewRequest(http.MethodDelete, "/v2/"+repo+"/manifests/"+tag, nil)
			rec := httptest.NewRecorder()
			f.h.reg.ServeHTTP(rec, req)
			if rec.Code/100 != 2 {
				break
			}
			f.h.untag(repo, tag)
			f.h.mu.Lock()
			f.h.deletes = append(f.h.deletes, repo+":"+tag)
			f.h.mu.Unlock()
			glJSON(w, http.StatusOK, nil)
			return
		}
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Tag Not Found"})
	default:
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
	}
}

// id is a repository's registry repository id, stable for the fake's life.
func (f *FakeGitLabRegistry) id(repo string) int64 {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	if id, ok := f.ids[repo]; ok {
		return id
	}
	f.ids[repo] = int64(100 + len(f.ids))
	return f.ids[repo]
}
