package citest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ActionsBot is the author of the comments GITHUB_TOKEN posts.
const ActionsBot = "github-actions[bot]"

// GitHubComment is an issue comment the fake holds.
type GitHubComment struct {
	ID     int64
	Author string
	Body   string
}

// FakeGitHub is GitHub's REST API for the repository acme/app, as far as
// the sticky comment uses it. Every request it receives is checked
// against GitHub's OpenAPI description (@octokit/openapi) and routed by
// the operation that description names.
type FakeGitHub struct {
	*httptest.Server
	t      *testing.T
	api    *GitHubAPI
	Prefix string // the API's base path: "" on github.com, /api/v3 on GHES
	token  string

	mu sync.Mutex
	// Login is what GET /user answers; "" answers 403, as GitHub does
	// to GITHUB_TOKEN, whose comments are github-actions[bot]'s.
	Login string
	// ReadOnly answers 403 to writes, as to a fork's token.
	ReadOnly bool
	Comments map[int][]*GitHubComment // by issue number
	Pulls    map[string][]int         // open pull requests by head (owner:branch)
	nextID   int64
	requests []string // "METHOD path?query", in order
	ops      []string // the operationId of each request
}

// NewFakeGitHub starts the fake under prefix ("" as on github.com,
// "/api/v3" as on GitHub Enterprise Server); it accepts token only.
func NewFakeGitHub(t *testing.T, prefix, token string) *FakeGitHub {
	f := &FakeGitHub{t: t, api: LoadGitHubAPI(t), Prefix: prefix, token: token, Login: "slipway-bot",
		Comments: map[int][]*GitHubComment{}, Pulls: map[string][]int{}, nextID: 1000}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

// Author is whose comments the token writes.
func (f *FakeGitHub) Author() string {
	if f.Login == "" {
		return ActionsBot
	}
	return f.Login
}

// Add stores a comment on issue n and returns it.
func (f *FakeGitHub) Add(n int, author, body string) *GitHubComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	c := &GitHubComment{ID: f.nextID, Author: author, Body: body}
	f.Comments[n] = append(f.Comments[n], c)
	return c
}

func (f *FakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, ok := strings.CutPrefix(r.URL.Path, f.Prefix)
	if !ok {
		f.t.Errorf("%s %s: not under the API's base path %s", r.Method, r.URL.Path, f.Prefix)
	}
	op, err := f.api.Check(r.Method, path, r.URL.Query(), body)
	if err != nil {
		f.t.Errorf("a request that GitHub's REST API does not describe: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+path+"?"+r.URL.RawQuery)
	f.ops = append(f.ops, op.ID)
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch op.ID {
	case "users/get-authenticated":
		if f.Login == "" {
			ghError(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		ghJSON(w, http.StatusOK, map[string]any{"login": f.Login, "id": 1, "type": "User"})
	case "issues/list-comments":
		n, _ := strconv.Atoi(segs[4])
		f.listComments(w, r, n)
	case "issues/create-comment":
		if f.ReadOnly {
			ghError(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		n, _ := strconv.Atoi(segs[4])
		var in struct{ Body string }
		_ = json.Unmarshal(body, &in)
		f.nextID++
		c := &GitHubComment{ID: f.nextID, Author: f.Author(), Body: in.Body}
		f.Comments[n] = append(f.Comments[n], c)
		ghJSON(w, http.StatusCreated, f.commentJSON(n, c))
	case "issues/update-comment":
		id, _ := strconv.ParseInt(segs[5], 10, 64)
		n, c := f.find(id)
		switch {
		case c == nil:
			ghError(w, http.StatusNotFound, "Not Found")
		case f.ReadOnly || c.Author != f.Author():
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
			for _, n := range f.Pulls[r.URL.Query().Get("head")] {
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
func (f *FakeGitHub) listComments(w http.ResponseWriter, r *http.Request, n int) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage == 0 {
		perPage = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	all := f.Comments[n]
	last := max((len(all)+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s%s/repositories/1296269/issues/%d/comments?per_page=%d&page=%d>; rel="%s"`, f.URL, f.Prefix, n, perPage, p, rel)
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

func (f *FakeGitHub) commentJSON(n int, c *GitHubComment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.Author},
		"html_url": fmt.Sprintf("https://github.com/acme/app/pull/%d#issuecomment-%d", n, c.ID),
	}
}

func (f *FakeGitHub) find(id int64) (int, *GitHubComment) {
	for n, cs := range f.Comments {
		for _, c := range cs {
			if c.ID == id {
				return n, c
			}
		}
	}
	return 0, nil
}

// Take returns the requests and operations received since the last take.
func (f *FakeGitHub) Take() (requests, ops []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, ops = f.requests, f.ops
	f.requests, f.ops = nil, nil
	return requests, ops
}

// Mine returns the comments of issue n by the token's user.
func (f *FakeGitHub) Mine(n int) []*GitHubComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*GitHubComment
	for _, c := range f.Comments[n] {
		if c.Author == f.Author() {
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
