package citest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// gitlabEndpoint is one endpoint of GitLab's REST API (v4) as its
// documentation describes it: GitLab publishes no OpenAPI description on
// npm, so the endpoints slipway uses (the MR note's, prune's) are listed
// here from the pages named.
type gitlabEndpoint struct {
	name     string
	method   string
	path     *regexp.Regexp // under /api/v4; :id is a number or a URL-encoded path
	query    []string       // the query attributes the page documents (those used)
	required []string       // the required body attributes
	doc      string
}

var gitlabEndpoints = []gitlabEndpoint{
	{
		name: "get the current user", method: "GET", path: regexp.MustCompile(`^/user$`),
		doc: "https://docs.gitlab.com/api/users/#get-the-current-user",
	},
	{
		name: "list project merge requests", method: "GET", path: regexp.MustCompile(`^/projects/[^/]+/merge_requests$`),
		query: []string{"state", "source_branch", "page", "per_page", "order_by", "sort"},
		doc:   "https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests",
	},
	{
		name: "list all merge request notes", method: "GET", path: regexp.MustCompile(`^/projects/[^/]+/merge_requests/\d+/notes$`),
		query: []string{"sort", "order_by", "page", "per_page"},
		doc:   "https://docs.gitlab.com/api/notes/#list-all-merge-request-notes",
	},
	{
		name: "create new merge request note", method: "POST", path: regexp.MustCompile(`^/projects/[^/]+/merge_requests/\d+/notes$`),
		required: []string{"body"},
		doc:      "https://docs.gitlab.com/api/notes/#create-new-merge-request-note",
	},
	{
		name: "modify existing merge request note", method: "PUT", path: regexp.MustCompile(`^/projects/[^/]+/merge_requests/\d+/notes/\d+$`),
		required: []string{"body"},
		doc:      "https://docs.gitlab.com/api/notes/#modify-existing-merge-request-note",
	},
	{
		name: "list registry repositories within a group", method: "GET", path: regexp.MustCompile(`^/groups/[^/]+/registry/repositories$`),
		query: []string{"tags", "tags_count", "page", "per_page"},
		doc:   "https://docs.gitlab.com/api/container_registry/#within-a-group",
	},
	{
		name: "list registry repositories within a project", method: "GET", path: regexp.MustCompile(`^/projects/[^/]+/registry/repositories$`),
		query: []string{"tags", "tags_count", "page", "per_page"},
		doc:   "https://docs.gitlab.com/api/container_registry/#within-a-project",
	},
	{
		name: "delete a registry repository tag", method: "DELETE", path: regexp.MustCompile(`^/projects/[^/]+/registry/repositories/\d+/tags/[^/]+$`),
		doc: "https://docs.gitlab.com/api/container_registry/#delete-a-registry-repository-tag",
	},
}

// checkGitLabRequest finds the documented endpoint of a request and says
// how the request does not fit it.
func checkGitLabRequest(method, path string, query url.Values, body []byte) (gitlabEndpoint, error) {
	for _, e := range gitlabEndpoints {
		if e.method != method || !e.path.MatchString(path) {
			continue
		}
		for k := range query {
			if !slices.Contains(e.query, k) {
				return e, fmt.Errorf("%s %s (%s): query attribute %q is not documented", method, path, e.name, k)
			}
		}
		if len(e.required) > 0 {
			var obj map[string]any
			if err := json.Unmarshal(body, &obj); err != nil {
				return e, fmt.Errorf("%s %s (%s): the body is not a JSON object: %w", method, path, e.name, err)
			}
			for _, f := range e.required {
				if _, ok := obj[f]; !ok {
					return e, fmt.Errorf("%s %s (%s): the body lacks required attribute %q", method, path, e.name, f)
				}
			}
		}
		return e, nil
	}
	return gitlabEndpoint{}, fmt.Errorf("%s %s: not a documented endpoint (of those slipway uses)", method, path)
}

// GitLabNote is a merge request note the fake holds.
type GitLabNote struct {
	ID     int
	Author string
	Body   string
	System bool
}

// FakeGitLab is GitLab's REST API for project 42 (group/app), as far as
// the MR note uses it; every request is checked with checkGitLabRequest.
type FakeGitLab struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	User     string                // the token's user
	ReadOnly bool                  // writes answer 403
	Notes    map[int][]*GitLabNote // by merge request iid
	MRs      map[string][]int      // open merge requests by source branch
	ForkMRs  map[string][]int      // open merge requests from forks' branches of that name
	token    string
	nextID   int
	requests []string // "METHOD path?query" under /api/v4
	names    []string // the documented endpoint of each
}

// NewFakeGitLab starts the fake; it accepts token only (PRIVATE-TOKEN).
func NewFakeGitLab(t *testing.T, token string) *FakeGitLab {
	f := &FakeGitLab{t: t, token: token, User: "project_42_bot_1", Notes: map[int][]*GitLabNote{}, MRs: map[string][]int{}, ForkMRs: map[string][]int{}, nextID: 500}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

// Add adds a note to merge request iid.
func (f *FakeGitLab) Add(iid int, author, body string, system bool) *GitLabNote {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	n := &GitLabNote{ID: f.nextID, Author: author, Body: body, System: system}
	f.Notes[iid] = append(f.Notes[iid], n)
	return n
}

func (f *FakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4")
	if !ok {
		f.t.Errorf("%s %s: not under /api/v4", r.Method, r.URL.Path)
	}
	e, err := checkGitLabRequest(r.Method, path, r.URL.Query(), body)
	if err != nil {
		f.t.Errorf("a request GitLab's API documentation does not describe: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+path+"?"+r.URL.RawQuery)
	f.names = append(f.names, e.name)
	if r.Header.Get("PRIVATE-TOKEN") != f.token {
		glJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > 1 && segs[0] == "projects" && segs[1] != "42" && segs[1] != "group%2Fapp" {
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return
	}
	var in struct{ Body string }
	_ = json.Unmarshal(body, &in)
	switch e.name {
	case "get the current user":
		glJSON(w, http.StatusOK, map[string]any{"id": 7, "username": f.User, "bot": true})
	case "list project merge requests":
		var out []map[string]any
		if r.URL.Query().Get("state") == "opened" {
			for _, iid := range f.MRs[r.URL.Query().Get("source_branch")] {
				out = append(out, map[string]any{"id": 9000 + iid, "iid": iid, "state": "opened", "source_project_id": 42, "target_project_id": 42})
			}
			for _, iid := range f.ForkMRs[r.URL.Query().Get("source_branch")] {
				out = append(out, map[string]any{"id": 9000 + iid, "iid": iid, "state": "opened", "source_project_id": 4242, "target_project_id": 42})
			}
		}
		glJSON(w, http.StatusOK, out)
	case "list all merge request notes":
		iid, _ := strconv.Atoi(segs[3])
		f.listNotes(w, r, iid)
	case "create new merge request note":
		if f.ReadOnly {
			glJSON(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
			return
		}
		iid, _ := strconv.Atoi(segs[3])
		f.nextID++
		n := &GitLabNote{ID: f.nextID, Author: f.User, Body: in.Body}
		f.Notes[iid] = append(f.Notes[iid], n)
		glJSON(w, http.StatusCreated, noteJSON(n))
	case "modify existing merge request note":
		iid, _ := strconv.Atoi(segs[3])
		id, _ := strconv.Atoi(segs[5])
		for _, n := range f.Notes[iid] {
			if n.ID != id {
				continue
			}
			if f.ReadOnly || n.Author != f.User {
				glJSON(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
				return
			}
			n.Body = in.Body
			glJSON(w, http.StatusOK, noteJSON(n))
			return
		}
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
	default:
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
	}
}

// listNotes answers one page of a merge request's notes with GitLab's
// offset pagination headers.
func (f *FakeGitLab) listNotes(w http.ResponseWriter, r *http.Request, iid int) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage == 0 {
		perPage = 20
	}
	page := max(1, atoi(r.URL.Query().Get("page")))
	all := f.Notes[iid]
	pages := max((len(all)+perPage-1)/perPage, 1)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(len(all)))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		h.Set("Link", fmt.Sprintf(`<%s/api/v4/projects/42/merge_requests/%d/notes?page=%d&per_page=%d>; rel="next"`, f.URL, iid, page+1, perPage))
	} else {
		h.Set("X-Next-Page", "")
	}
	out := []map[string]any{}
	for _, n := range all[min((page-1)*perPage, len(all)):min(page*perPage, len(all))] {
		out = append(out, noteJSON(n))
	}
	glJSON(w, http.StatusOK, out)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func noteJSON(n *GitLabNote) map[string]any {
	return map[string]any{"id": n.ID, "body": n.Body, "system": n.System, "noteable_type": "MergeRequest", "author": map[string]any{"username": n.Author}}
}

func glJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Take returns and forgets the requests so far and their endpoints.
func (f *FakeGitLab) Take() (requests, names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, names = f.requests, f.names
	f.requests, f.names = nil, nil
	return requests, names
}

// Mine is merge request iid's notes by the token's user.
func (f *FakeGitLab) Mine(iid int) []*GitLabNote {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*GitLabNote
	for _, n := range f.Notes[iid] {
		if n.Author == f.User {
			out = append(out, n)
		}
	}
	return out
}
