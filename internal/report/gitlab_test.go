package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

const glToken = "glpat-faketoken0123456789"

// gitlabEndpoint is one endpoint of GitLab's REST API (v4) as its
// documentation describes it: GitLab publishes no OpenAPI description on
// npm, so the MR note's endpoints are listed here from the pages named.
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
	return gitlabEndpoint{}, fmt.Errorf("%s %s: not a documented endpoint of the MR note", method, path)
}

type glNote struct {
	ID     int
	Author string
	Body   string
	System bool
}

// fakeGitLab is GitLab's REST API for project 42 (group/app), as far as
// the MR note uses it; every request is checked with checkGitLabRequest.
type fakeGitLab struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	user     string
	readOnly bool              // writes answer 403
	notes    map[int][]*glNote // by merge request iid
	mrs      map[string][]int  // open merge requests by source branch
	forkMRs  map[string][]int  // open merge requests from forks' branches of that name
	nextID   int
	requests []string // "METHOD path?query" under /api/v4
	names    []string // the documented endpoint of each
}

func newFakeGitLab(t *testing.T) *fakeGitLab {
	f := &fakeGitLab{t: t, user: "project_42_bot_1", notes: map[int][]*glNote{}, mrs: map[string][]int{}, forkMRs: map[string][]int{}, nextID: 500}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitLab) add(iid int, author, body string, system bool) *glNote {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	n := &glNote{ID: f.nextID, Author: author, Body: body, System: system}
	f.notes[iid] = append(f.notes[iid], n)
	return n
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	if r.Header.Get("PRIVATE-TOKEN") != glToken {
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
		glJSON(w, http.StatusOK, map[string]any{"id": 7, "username": f.user, "bot": true})
	case "list project merge requests":
		var out []map[string]any
		if r.URL.Query().Get("state") == "opened" {
			for _, iid := range f.mrs[r.URL.Query().Get("source_branch")] {
				out = append(out, map[string]any{"id": 9000 + iid, "iid": iid, "state": "opened", "source_project_id": 42, "target_project_id": 42})
			}
			for _, iid := range f.forkMRs[r.URL.Query().Get("source_branch")] {
				out = append(out, map[string]any{"id": 9000 + iid, "iid": iid, "state": "opened", "source_project_id": 4242, "target_project_id": 42})
			}
		}
		glJSON(w, http.StatusOK, out)
	case "list all merge request notes":
		iid, _ := strconv.Atoi(segs[3])
		f.listNotes(w, r, iid)
	case "create new merge request note":
		if f.readOnly {
			glJSON(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
			return
		}
		iid, _ := strconv.Atoi(segs[3])
		f.nextID++
		n := &glNote{ID: f.nextID, Author: f.user, Body: in.Body}
		f.notes[iid] = append(f.notes[iid], n)
		glJSON(w, http.StatusCreated, noteJSON(n))
	case "modify existing merge request note":
		iid, _ := strconv.Atoi(segs[3])
		id, _ := strconv.Atoi(segs[5])
		for _, n := range f.notes[iid] {
			if n.ID != id {
				continue
			}
			if f.readOnly || n.Author != f.user {
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
func (f *fakeGitLab) listNotes(w http.ResponseWriter, r *http.Request, iid int) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage == 0 {
		perPage = 20
	}
	page := max(1, atoi(r.URL.Query().Get("page")))
	all := f.notes[iid]
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

func noteJSON(n *glNote) map[string]any {
	return map[string]any{"id": n.ID, "body": n.Body, "system": n.System, "noteable_type": "MergeRequest", "author": map[string]any{"username": n.Author}}
}

func glJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGitLab) take() (requests, names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, names = f.requests, f.names
	f.requests, f.names = nil, nil
	return requests, names
}

func (f *fakeGitLab) mine(iid int) []*glNote {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*glNote
	for _, n := range f.notes[iid] {
		if n.Author == f.user {
			out = append(out, n)
		}
	}
	return out
}

// gitlabMR reads, with the real provider, the context of a merge request
// pipeline of MR !7 in project 42 whose API is api.
func gitlabMR(t *testing.T, api *fakeGitLab, more ...string) *ci.Context {
	t.Helper()
	env := map[string]string{
		"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_SHA": headSHA,
		"CI_PROJECT_ID": "42", "CI_PROJECT_PATH": "group/app", "CI_PROJECT_URL": "https://gitlab.example.com/group/app",
		"CI_JOB_URL": "https://gitlab.example.com/group/app/-/jobs/9001", "CI_API_V4_URL": api.URL + "/api/v4",
		"CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_PROJECT_ID": "42", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "42",
		"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
		"CI_JOB_TOKEN": "job-token-value",
	}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	prov, err := ci.New(ci.NameGitLab, ci.Options{Env: environ.Map(env), OutputDir: ".slipway"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := prov.Context(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// gitlabPlan is fixedPlan as planned for c.
func gitlabPlan(c *ci.Context) *pipeline.Plan {
	p := fixedPlan()
	p.CI = pipeline.CIPlan{
		Provider: c.Provider, Event: string(c.Event), EventName: c.EventName, Ref: c.Ref, SHA: c.SHA, Branch: c.Branch,
		PR: c.PRNumber, BaseRef: c.BaseRef, Repository: c.Repository.Name, RunURL: c.RunURL, Fork: c.Fork,
	}
	return p
}

func TestGitLabStickyNote(t *testing.T) {
	api := newFakeGitLab(t)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	mark := marker(p)
	other := api.add(7, "mallory", mark+"\nnot slipway's", false)
	api.add(7, api.user, "changed the description", true) // a system note
	n := &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}

	log := notify(t, n, p, fixedResult(p))
	requests, names := api.take()
	if want := []string{"get the current user", "list all merge request notes", "create new merge request note"}; !slices.Equal(names, want) {
		t.Errorf("first run: %q, want %q (requests %q)", names, want, requests)
	}
	if requests[1] != "GET /projects/42/merge_requests/7/notes?order_by=created_at&per_page=100&sort=asc" {
		t.Errorf("first run listed %q", requests[1])
	}
	mine := api.mine(7)
	if len(mine) != 2 || !strings.HasPrefix(mine[1].Body, mark+"\n") {
		t.Fatalf("first run: notes by the token's user %v, want the system note and slipway's", mine)
	}
	note := mine[1]
	assertContains(t, "the note", note.Body, "Commit `0123456` of merge request !7 (`feature/login` → `main`) of `group/app`, [GitLab CI run](https://gitlab.example.com/group/app/-/jobs/9001).")
	assertContains(t, "the log", log, fmt.Sprintf("comment created on merge request !7 https://gitlab.example.com/group/app/-/merge_requests/7#note_%d", note.ID))

	notify(t, n, p, failedResult(p))
	requests, names = api.take()
	if want := []string{"get the current user", "list all merge request notes", "modify existing merge request note"}; !slices.Equal(names, want) {
		t.Errorf("second run: %q, want %q", names, want)
	}
	if want := fmt.Sprintf("PUT /projects/42/merge_requests/7/notes/%d?", note.ID); requests[2] != want {
		t.Errorf("second run: %q, want %q", requests[2], want)
	}
	assertContains(t, "the updated note", note.Body, "failed at gate")
	if other.Body != mark+"\nnot slipway's" || len(api.notes[7]) != 3 {
		t.Errorf("another user's note was changed (%q) or notes were added (%d)", other.Body, len(api.notes[7]))
	}
}

func TestGitLabNotesPaginate(t *testing.T) {
	api := newFakeGitLab(t)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	var ours *glNote
	for i := range 230 {
		if i == 220 {
			ours = api.add(7, api.user, marker(p)+"\nold", false)
		} else {
			api.add(7, "reviewer", fmt.Sprintf("note %d", i), false)
		}
	}
	notify(t, &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}, p, fixedResult(p))
	requests, names := api.take()
	want := []string{
		"GET /user?",
		"GET /projects/42/merge_requests/7/notes?order_by=created_at&per_page=100&sort=asc",
		"GET /projects/42/merge_requests/7/notes?order_by=created_at&page=2&per_page=100&sort=asc",
		"GET /projects/42/merge_requests/7/notes?order_by=created_at&page=3&per_page=100&sort=asc",
	}
	if len(requests) != 5 || !slices.Equal(requests[:4], want) || names[4] != "modify existing merge request note" {
		t.Fatalf("requests %q, want %q then the update", requests, want)
	}
	if !strings.Contains(ours.Body, "slipway: passed") {
		t.Errorf("the note on page 3 was not updated: %q", ours.Body)
	}
}

func TestGitLabWithoutAToken(t *testing.T) {
	api := newFakeGitLab(t)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	notify(t, &Notifier{Outputs: newOutputs(), CI: c}, p, fixedResult(p))
	if requests, _ := api.take(); len(requests) > 0 {
		t.Errorf("requests with CI_JOB_TOKEN only: %q", requests)
	}
	assertContains(t, SummaryFile, readFile(t, filepath.Join(".slipway", SummaryFile)),
		"no comment on merge request !7: set gitlab-token (a project access token with api scope) to get an MR note; CI_JOB_TOKEN cannot post notes")
	if cs := reportFile(t).Comment; cs.Action != "skipped" {
		t.Errorf("report comment status = %+v", cs)
	}
}

func TestGitLabForbidden(t *testing.T) {
	api := newFakeGitLab(t)
	api.readOnly = true
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	r := fixedResult(p)
	notify(t, &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}, p, r)
	if _, names := api.take(); len(names) != 3 || names[2] != "create new merge request note" {
		t.Errorf("requests: %q", names)
	}
	summary := readFile(t, filepath.Join(".slipway", SummaryFile))
	assertContains(t, SummaryFile, summary, "could not comment on merge request !7: the token may not write comments there (", "403")
	if strings.Contains(summary, glToken) || strings.Contains(strings.Join(r.Warnings, "\n"), glToken) {
		t.Error("the summary or the warnings show the token")
	}
}

func TestGitLabPushUpdatesTheMergeRequestNote(t *testing.T) {
	api := newFakeGitLab(t)
	c := gitlabMR(t, api, "CI_PIPELINE_SOURCE", "push", "CI_MERGE_REQUEST_IID", "", "CI_COMMIT_BRANCH", "feature/login")
	if c.PRNumber != 0 || c.Event != ci.EventBranchPush {
		t.Fatalf("context: PR %d, event %s; want a branch push", c.PRNumber, c.Event)
	}
	p := gitlabPlan(c)
	api.mrs["feature/login"] = []int{7}
	ours := api.add(7, api.user, marker(p)+"\nold", false)
	// A fork's merge request from its own feature/login is not this
	// push's: its note stays as it is.
	api.forkMRs["feature/login"] = []int{8}
	forks := api.add(8, api.user, marker(p)+"\nthe fork's", false)
	notify(t, &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}, p, fixedResult(p))
	if forks.Body != marker(p)+"\nthe fork's" {
		t.Errorf("the note on the fork's merge request changed: %q", forks.Body)
	}
	requests, names := api.take()
	if requests[0] != "GET /projects/42/merge_requests?per_page=100&source_branch=feature%2Flogin&state=opened" {
		t.Errorf("lookup %q", requests[0])
	}
	if want := []string{"list project merge requests", "get the current user", "list all merge request notes", "modify existing merge request note"}; !slices.Equal(names, want) {
		t.Errorf("%q, want %q", names, want)
	}
	assertContains(t, "the note", ours.Body, "slipway: passed", "on `feature/login`")
}

// The merge request note of a run compared with the default branch's
// image says what changed, as the pull request comment does.
func TestGitLabNoteComparesWithTheBase(t *testing.T) {
	api := newFakeGitLab(t)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	n := &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}
	notify(t, n, p, comparedResult(p))
	mine := api.mine(7)
	if len(mine) != 1 {
		t.Fatalf("notes by the token's user %v, want slipway's", mine)
	}
	for _, want := range []string{
		"### Compared with `ghcr.io/acme/app:main`", "**+1 HIGH, −1 fixed, +1.0 MiB (+22.2 %)**",
		"<summary>New vulnerabilities (1)</summary>", "GHSA-xxxx-yyyy-zzzz", "<summary>Fixed vulnerabilities (1)</summary>",
		"- added `bash` 5.2.15-r0", "- upgraded `openssl` 3.0.0-r0 → 3.0.1-r0",
	} {
		assertContains(t, "the note", mine[0].Body, want)
	}
}
