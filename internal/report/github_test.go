package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

const ghToken = "ghp_faketoken0123456789"

// ghComment is an issue comment the fake holds.
type ghComment struct {
	ID     int64
	Author string
	Body   string
}

// fakeGitHub is GitHub's REST API for the repository acme/app, as far as
// the sticky comment uses it. Every request it receives is checked
// against GitHub's OpenAPI description (@octokit/openapi) and routed by
// the operation that description names.
type fakeGitHub struct {
	*httptest.Server
	t      *testing.T
	api    *citest.GitHubAPI
	prefix string // the API's base path: "" on github.com, /api/v3 on GHES

	mu sync.Mutex
	// login is what GET /user answers; "" answers 403, as GitHub does
	// to GITHUB_TOKEN, whose comments are github-actions[bot]'s.
	login string
	// readOnly answers 403 to writes, as to a fork's token.
	readOnly bool
	comments map[int][]*ghComment // by issue number
	pulls    map[string][]int     // open pull requests by head (owner:branch)
	nextID   int64
	requests []string // "METHOD path?query", in order
	ops      []string // the operationId of each request
}

func newFakeGitHub(t *testing.T, prefix string) *fakeGitHub {
	f := &fakeGitHub{t: t, api: citest.LoadGitHubAPI(t), prefix: prefix, login: "slipway-bot",
		comments: map[int][]*ghComment{}, pulls: map[string][]int{}, nextID: 1000}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

// author is whose comments the token writes.
func (f *fakeGitHub) author() string {
	if f.login == "" {
		return actionsBot
	}
	return f.login
}

// add stores a comment on issue n and returns it.
func (f *fakeGitHub) add(n int, author, body string) *ghComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	c := &ghComment{ID: f.nextID, Author: author, Body: body}
	f.comments[n] = append(f.comments[n], c)
	return c
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, ok := strings.CutPrefix(r.URL.Path, f.prefix)
	if !ok {
		f.t.Errorf("%s %s: not under the API's base path %s", r.Method, r.URL.Path, f.prefix)
	}
	op, err := f.api.Check(r.Method, path, r.URL.Query(), body)
	if err != nil {
		f.t.Errorf("a request that GitHub's REST API does not describe: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+path+"?"+r.URL.RawQuery)
	f.ops = append(f.ops, op.ID)
	if r.Header.Get("Authorization") != "Bearer "+ghToken {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch op.ID {
	case "users/get-authenticated":
		if f.login == "" {
			ghError(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		ghJSON(w, http.StatusOK, map[string]any{"login": f.login, "id": 1, "type": "User"})
	case "issues/list-comments":
		n, _ := strconv.Atoi(segs[4])
		f.listComments(w, r, n)
	case "issues/create-comment":
		if f.readOnly {
			ghError(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		n, _ := strconv.Atoi(segs[4])
		var in struct{ Body string }
		_ = json.Unmarshal(body, &in)
		f.nextID++
		c := &ghComment{ID: f.nextID, Author: f.author(), Body: in.Body}
		f.comments[n] = append(f.comments[n], c)
		ghJSON(w, http.StatusCreated, f.commentJSON(n, c))
	case "issues/update-comment":
		id, _ := strconv.ParseInt(segs[5], 10, 64)
		n, c := f.find(id)
		switch {
		case c == nil:
			ghError(w, http.StatusNotFound, "Not Found")
		case f.readOnly || c.Author != f.author():
			ghError(w, http.StatusForbidden, "Resource not accessible by integration")
		default:
			var in struct{ Body string }
			_ = json.Unmarshal(body, &in)
			c.Body = in.Body
			ghJSON(w, http.StatusOK, f.commentJSON(n, c))
		}
	case "pulls/list":
		var prs []map[string]any
		if r.URL.Query().Get("state") == "open" {
			for _, n := range f.pulls[r.URL.Query().Get("head")] {
				prs = append(prs, map[string]any{"number": n, "state": "open"})
			}
		}
		ghJSON(w, http.StatusOK, prs)
	default:
		ghError(w, http.StatusNotFound, "Not Found")
	}
}

// listComments answers one page of issue n's comments, with the Link
// header GitHub sends: its URLs name the repository by id.
func (f *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request, n int) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage == 0 {
		perPage = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	all := f.comments[n]
	last := max((len(all)+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s%s/repositories/1296269/issues/%d/comments?per_page=%d&page=%d>; rel="%s"`, f.URL, f.prefix, n, perPage, p, rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	out := []map[string]any{}
	for _, c := range all[min((page-1)*perPage, len(all)):min(page*perPage, len(all))] {
		out = append(out, f.commentJSON(n, c))
	}
	ghJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) commentJSON(n int, c *ghComment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.Author},
		"html_url": fmt.Sprintf("https://github.com/acme/app/pull/%d#issuecomment-%d", n, c.ID),
	}
}

func (f *fakeGitHub) find(id int64) (int, *ghComment) {
	for n, cs := range f.comments {
		for _, c := range cs {
			if c.ID == id {
				return n, c
			}
		}
	}
	return 0, nil
}

// take returns the requests and operations received since the last take.
func (f *fakeGitHub) take() (requests, ops []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, ops = f.requests, f.ops
	f.requests, f.ops = nil, nil
	return requests, ops
}

// mine returns the comments of issue n by the token's user.
func (f *fakeGitHub) mine(n int) []*ghComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*ghComment
	for _, c := range f.comments[n] {
		if c.Author == f.author() {
			out = append(out, c)
		}
	}
	return out
}

func ghJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ghError(w http.ResponseWriter, status int, msg string) {
	ghJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// githubPR is the context of pull request #7 of acme/app on GitHub
// Actions, the API at api.
func githubPR(api *fakeGitHub) *ci.Context {
	return &ci.Context{
		Provider: ci.NameGitHub, Event: ci.EventPullRequest, EventName: "pull_request", PRNumber: 7,
		Branch: "feature/login", SHA: headSHA, RunURL: runURL,
		Repository: ci.Repository{Name: "acme/app", URL: "https://github.com/acme/app"},
		Forge:      ci.Forge{Kind: ci.ForgeGitHub, APIURL: api.URL + api.prefix, Project: "acme/app", Token: ghToken},
	}
}

func reportFile(t *testing.T) File {
	t.Helper()
	var f File
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(".slipway", ReportFile))), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGitHubStickyComment(t *testing.T) {
	api := newFakeGitHub(t, "")
	p := fixedPlan()
	mark := marker(p)
	// Someone else's comment carrying the marker is not slipway's.
	other := api.add(7, "mallory", mark+"\nnot slipway's")
	n := &Notifier{Outputs: newOutputs(), CI: githubPR(api)}

	notify(t, n, p, fixedResult(p))
	requests, ops := api.take()
	if want := []string{"users/get-authenticated", "issues/list-comments", "issues/create-comment"}; !slices.Equal(ops, want) {
		t.Errorf("first run: operations %q, want %q (requests %q)", ops, want, requests)
	}
	mine := api.mine(7)
	if len(mine) != 1 {
		t.Fatalf("first run: %d comments by the token's user, want 1", len(mine))
	}
	first := mine[0]
	if !strings.HasPrefix(first.Body, mark+"\n") {
		t.Errorf("the comment does not start with the marker %q:\n%s", mark, first.Body)
	}
	golden(t, "passed/comment.md", first.Body)
	if cs := reportFile(t).Comment; cs.Action != "created" || cs.Target != "pull request #7" || !strings.HasSuffix(cs.URL, fmt.Sprintf("#issuecomment-%d", first.ID)) {
		t.Errorf("report comment status = %+v", cs)
	}

	notify(t, n, p, failedResult(p))
	requests, ops = api.take()
	if want := []string{"users/get-authenticated", "issues/list-comments", "issues/update-comment"}; !slices.Equal(ops, want) {
		t.Errorf("second run: operations %q, want %q", ops, want)
	}
	if want := fmt.Sprintf("PATCH /repos/acme/app/issues/comments/%d?", first.ID); requests[2] != want {
		t.Errorf("second run edited %q, want %q", requests[2], want)
	}
	if mine := api.mine(7); len(mine) != 1 || mine[0].ID != first.ID {
		t.Fatalf("second run: comments by the token's user %v, want the first one only", mine)
	}
	golden(t, "failed/comment.md", first.Body)
	assertContains(t, "the edited comment", first.Body, "## ❌ slipway: failed at gate", "CVE-2024-0001")
	if other.Body != mark+"\nnot slipway's" || len(api.comments[7]) != 2 {
		t.Errorf("another user's comment with the marker was changed (%q) or comments were added (%d)", other.Body, len(api.comments[7]))
	}
}

func TestGitHubStickyCommentPaginates(t *testing.T) {
	for _, tt := range []struct {
		name   string
		at     int // index of slipway's comment among 250; -1 for none
		wantOp string
	}{
		{"found on the third page", 230, "issues/update-comment"},
		{"on no page", -1, "issues/create-comment"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeGitHub(t, "")
			p := fixedPlan()
			var ours *ghComment
			for i := range 250 {
				switch {
				case i == tt.at:
					ours = api.add(7, api.author(), marker(p)+"\nold")
				case i%50 == 0:
					api.add(7, "mallory", marker(p)+"\ncopied marker")
				default:
					api.add(7, "reviewer", fmt.Sprintf("comment %d", i))
				}
			}
			notify(t, &Notifier{Outputs: newOutputs(), CI: githubPR(api)}, p, fixedResult(p))
			requests, ops := api.take()
			want := []string{
				"GET /user?",
				"GET /repos/acme/app/issues/7/comments?per_page=100",
				"GET /repos/acme/app/issues/7/comments?page=2&per_page=100",
				"GET /repos/acme/app/issues/7/comments?page=3&per_page=100",
			}
			if len(requests) != 5 || !slices.Equal(requests[:4], want) || ops[4] != tt.wantOp {
				t.Fatalf("requests %q (%q), want %q then %s", requests, ops, want, tt.wantOp)
			}
			mine := api.mine(7)
			if len(mine) != 1 {
				t.Fatalf("%d comments by the token's user, want 1", len(mine))
			}
			if ours != nil && (mine[0] != ours || !strings.Contains(ours.Body, "slipway: passed")) {
				t.Errorf("slipway's comment on page 3 was not the one updated: %q", ours.Body)
			}
		})
	}
}

func TestGitHubTokenOfActions(t *testing.T) {
	api := newFakeGitHub(t, "")
	api.login = "" // GET /user: 403, as for GITHUB_TOKEN
	p := fixedPlan()
	human := api.add(7, "octocat", marker(p)+"\nquoted")
	bot := api.add(7, actionsBot, marker(p)+"\nold")
	notify(t, &Notifier{Outputs: newOutputs(), CI: githubPR(api)}, p, fixedResult(p))
	_, ops := api.take()
	if want := []string{"users/get-authenticated", "issues/list-comments", "issues/update-comment"}; !slices.Equal(ops, want) {
		t.Errorf("operations %q, want %q", ops, want)
	}
	if !strings.Contains(bot.Body, "slipway: passed") || human.Body != marker(p)+"\nquoted" {
		t.Errorf("github-actions[bot]'s comment %q; octocat's %q", bot.Body, human.Body)
	}
}

func TestGitHubForkPullRequest(t *testing.T) {
	t.Run("auto: no comment, the summary says why", func(t *testing.T) {
		api := newFakeGitHub(t, "")
		c := githubPR(api)
		c.Fork = true
		out := newOutputs()
		p := fixedPlan()
		notify(t, &Notifier{Outputs: out, CI: c}, p, fixedResult(p))
		if requests, _ := api.take(); len(requests) > 0 {
			t.Errorf("requests on a fork's pull request with comment: auto: %q", requests)
		}
		want := "no comment on pull request #7: it comes from a fork, whose token cannot write comments (comment: always tries anyway)"
		assertContains(t, "the job summary", out.summary, want)
		assertContains(t, SummaryFile, readFile(t, filepath.Join(".slipway", SummaryFile)), want)
	})
	t.Run("always: a 403 does not fail the run", func(t *testing.T) {
		api := newFakeGitHub(t, "")
		api.login = ""
		api.readOnly = true
		c := githubPR(api)
		c.Fork = true
		out := newOutputs()
		p := fixedPlan()
		r := failedResult(p)
		log := notify(t, &Notifier{Outputs: out, CI: c, Comment: CommentAlways}, p, r)
		if _, ops := api.take(); !slices.Equal(ops, []string{"users/get-authenticated", "issues/list-comments", "issues/create-comment"}) {
			t.Errorf("operations %q", ops)
		}
		assertContains(t, "the job summary", out.summary,
			"could not comment on pull request #7: the token may not write comments there (", "403 Resource not accessible by integration",
			"; a pull request from a fork gets a read-only token")
		assertContains(t, "the log", log, "comment failed: the token may not write comments there")
		if cs := reportFile(t).Comment; cs.Action != "failed" {
			t.Errorf("report comment status = %+v, want failed", cs)
		}
		if len(r.Warnings) != 1 || strings.Contains(r.Warnings[0], ghToken) {
			t.Errorf("warnings %q: want one, without the token", r.Warnings)
		}
	})
}

func TestGitHubPushUpdatesThePullRequestComment(t *testing.T) {
	api := newFakeGitHub(t, "")
	p := fixedPlan()
	api.pulls["acme:feature/login"] = []int{7, 8}
	ours := api.add(7, api.author(), marker(p)+"\nold")
	c := githubPR(api)
	c.Event, c.EventName, c.PRNumber = ci.EventBranchPush, "push", 0
	notify(t, &Notifier{Outputs: newOutputs(), CI: c}, p, fixedResult(p))
	requests, ops := api.take()
	if requests[0] != "GET /repos/acme/app/pulls?head=acme%3Afeature%2Flogin&per_page=100&state=open" {
		t.Errorf("first request %q, want the open pull requests from acme:feature/login", requests[0])
	}
	want := []string{"pulls/list", "users/get-authenticated", "issues/list-comments", "issues/update-comment", "issues/list-comments"}
	if !slices.Equal(ops, want) {
		t.Errorf("operations %q, want %q: PR 7's comment updated, none created on PR 8", ops, want)
	}
	if !strings.Contains(ours.Body, "slipway: passed") || len(api.comments[8]) != 0 {
		t.Errorf("PR 7's comment %q; PR 8's comments %v", ours.Body, api.comments[8])
	}
	if cs := reportFile(t).Comment; cs.Action != "updated" || cs.Target != "pull request #7" {
		t.Errorf("report comment status = %+v", cs)
	}

	// A branch with no open pull request: one lookup, nothing else.
	c.Branch = "main"
	notify(t, &Notifier{Outputs: newOutputs(), CI: c}, p, fixedResult(p))
	if _, ops := api.take(); !slices.Equal(ops, []string{"pulls/list"}) {
		t.Errorf("push to main: operations %q, want the pull request lookup only", ops)
	}
}

func TestCommentNever(t *testing.T) {
	api := newFakeGitHub(t, "")
	p := fixedPlan()
	out := newOutputs()
	notify(t, &Notifier{Outputs: out, CI: githubPR(api), Comment: CommentNever}, p, fixedResult(p))
	if requests, _ := api.take(); len(requests) > 0 {
		t.Errorf("requests with comment: never: %q", requests)
	}
	if strings.Contains(out.summary, "no comment") {
		t.Errorf("the summary explains a comment nobody asked for:\n%s", out.summary)
	}
	if cs := reportFile(t).Comment; cs.Action != "skipped" || cs.Reason != "comment is never" {
		t.Errorf("report comment status = %+v", cs)
	}
}

// TestJenkinsChangeRequestOnGitHub reads a Jenkins build of change 7 of a
// repository on a GitHub Enterprise Server (the fake, under /api/v3) with
// the real provider, and comments there.
func TestJenkinsChangeRequestOnGitHub(t *testing.T) {
	api := newFakeGitHub(t, "/api/v3")
	prov, err := ci.New(ci.NameJenkins, ci.Options{Env: environ.Map(map[string]string{
		"JENKINS_URL": "https://jenkins.example.com/", "BUILD_URL": "https://jenkins.example.com/job/app/job/PR-7/3/",
		"GIT_COMMIT": headSHA, "GIT_URL": api.URL + "/acme/app.git", "BRANCH_NAME": "PR-7",
		"CHANGE_ID": "7", "CHANGE_URL": api.URL + "/acme/app/pull/7", "CHANGE_BRANCH": "feature/login", "CHANGE_TARGET": "main",
		"GITHUB_TOKEN": ghToken,
	})})
	if err != nil {
		t.Fatal(err)
	}
	c, err := prov.Context(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := fixedPlan()
	p.CI = pipeline.CIPlan{Provider: c.Provider, Event: string(c.Event), SHA: c.SHA, Branch: c.Branch, PR: c.PRNumber, BaseRef: c.BaseRef, Repository: c.Repository.Name, RunURL: c.RunURL}
	out := newOutputs()
	log := notify(t, &Notifier{Outputs: out, CI: c}, p, fixedResult(p))
	if _, ops := api.take(); !slices.Equal(ops, []string{"users/get-authenticated", "issues/list-comments", "issues/create-comment"}) {
		t.Errorf("operations %q", ops)
	}
	if mine := api.mine(7); len(mine) != 1 || !strings.Contains(mine[0].Body, "[Jenkins run](https://jenkins.example.com/job/app/job/PR-7/3/)") {
		t.Errorf("comments by the token's user: %v", mine)
	}
	if len(out.keys) > 0 || out.summary != "" {
		t.Errorf("Jenkins has no step outputs, yet outputs %q and a summary were written", out.keys)
	}
	for _, f := range []string{ReportFile, SummaryFile, DotenvFile} {
		if readFile(t, filepath.Join(".slipway", f)) == "" {
			t.Errorf("%s is empty", f)
		}
	}
	assertContains(t, "the log", log, "comment created on pull request #7 https://github.com/acme/app/pull/7#issuecomment-")
}
