package report

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

const ghToken = "ghp_faketoken0123456789"

// The fake GitHub API is citest's, shared with cmd/slipway's e2e tests.
type (
	ghComment  = citest.GitHubComment
	fakeGitHub = citest.FakeGitHub
)

func newFakeGitHub(t *testing.T, prefix string) *fakeGitHub {
	return citest.NewFakeGitHub(t, prefix, ghToken)
}

// githubPR is the context of pull request #7 of acme/app on GitHub
// Actions, the API at api.
func githubPR(api *fakeGitHub) *ci.Context {
	return &ci.Context{
		Provider: ci.NameGitHub, Event: ci.EventPullRequest, EventName: "pull_request", PRNumber: 7,
		Branch: "feature/login", SHA: headSHA, RunURL: runURL,
		Repository: ci.Repository{Name: "acme/app", URL: "https://github.com/acme/app"},
		Forge:      ci.Forge{Kind: ci.ForgeGitHub, APIURL: api.URL + api.Prefix, Project: "acme/app", Token: ghToken},
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
	other := api.Add(7, "mallory", mark+"\nnot slipway's")
	n := &Notifier{Outputs: newOutputs(), CI: githubPR(api)}

	notify(t, n, p, fixedResult(p))
	requests, ops := api.Take()
	if want := []string{"users/get-authenticated", "issues/list-comments", "issues/create-comment"}; !slices.Equal(ops, want) {
		t.Errorf("first run: operations %q, want %q (requests %q)", ops, want, requests)
	}
	mine := api.Mine(7)
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
	requests, ops = api.Take()
	if want := []string{"users/get-authenticated", "issues/list-comments", "issues/update-comment"}; !slices.Equal(ops, want) {
		t.Errorf("second run: operations %q, want %q", ops, want)
	}
	if want := fmt.Sprintf("PATCH /repos/acme/app/issues/comments/%d?", first.ID); requests[2] != want {
		t.Errorf("second run edited %q, want %q", requests[2], want)
	}
	if mine := api.Mine(7); len(mine) != 1 || mine[0].ID != first.ID {
		t.Fatalf("second run: comments by the token's user %v, want the first one only", mine)
	}
	golden(t, "failed/comment.md", first.Body)
	assertContains(t, "the edited comment", first.Body, "## ❌ slipway: failed at gate", "CVE-2024-0001")
	if other.Body != mark+"\nnot slipway's" || len(api.Comments[7]) != 2 {
		t.Errorf("another user's comment with the marker was changed (%q) or comments were added (%d)", other.Body, len(api.Comments[7]))
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
					ours = api.Add(7, api.Author(), marker(p)+"\nold")
				case i%50 == 0:
					api.Add(7, "mallory", marker(p)+"\ncopied marker")
				default:
					api.Add(7, "reviewer", fmt.Sprintf("comment %d", i))
				}
			}
			notify(t, &Notifier{Outputs: newOutputs(), CI: githubPR(api)}, p, fixedResult(p))
			requests, ops := api.Take()
			want := []string{
				"GET /user?",
				"GET /repos/acme/app/issues/7/comments?per_page=100",
				"GET /repos/acme/app/issues/7/comments?page=2&per_page=100",
				"GET /repos/acme/app/issues/7/comments?page=3&per_page=100",
			}
			if len(requests) != 5 || !slices.Equal(requests[:4], want) || ops[4] != tt.wantOp {
				t.Fatalf("requests %q (%q), want %q then %s", requests, ops, want, tt.wantOp)
			}
			mine := api.Mine(7)
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
	api.Login = "" // GET /user: 403, as for GITHUB_TOKEN
	p := fixedPlan()
	human := api.Add(7, "octocat", marker(p)+"\nquoted")
	bot := api.Add(7, actionsBot, marker(p)+"\nold")
	notify(t, &Notifier{Outputs: newOutputs(), CI: githubPR(api)}, p, fixedResult(p))
	_, ops := api.Take()
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
		if requests, _ := api.Take(); len(requests) > 0 {
			t.Errorf("requests on a fork's pull request with comment: auto: %q", requests)
		}
		want := "no comment on pull request #7: it comes from a fork, whose token cannot write comments (comment: always tries anyway)"
		assertContains(t, "the job summary", out.summary, want)
		assertContains(t, SummaryFile, readFile(t, filepath.Join(".slipway", SummaryFile)), want)
	})
	t.Run("always: a 403 does not fail the run", func(t *testing.T) {
		api := newFakeGitHub(t, "")
		api.Login = ""
		api.ReadOnly = true
		c := githubPR(api)
		c.Fork = true
		out := newOutputs()
		p := fixedPlan()
		r := failedResult(p)
		log := notify(t, &Notifier{Outputs: out, CI: c, Comment: mode.CommentAlways}, p, r)
		if _, ops := api.Take(); !slices.Equal(ops, []string{"users/get-authenticated", "issues/list-comments", "issues/create-comment"}) {
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
	api.Pulls["acme:feature/login"] = []int{7, 8}
	ours := api.Add(7, api.Author(), marker(p)+"\nold")
	c := githubPR(api)
	c.Event, c.EventName, c.PRNumber = ci.EventBranchPush, "push", 0
	notify(t, &Notifier{Outputs: newOutputs(), CI: c}, p, fixedResult(p))
	requests, ops := api.Take()
	if requests[0] != "GET /repos/acme/app/pulls?head=acme%3Afeature%2Flogin&per_page=100&state=open" {
		t.Errorf("first request %q, want the open pull requests from acme:feature/login", requests[0])
	}
	want := []string{"pulls/list", "users/get-authenticated", "issues/list-comments", "issues/update-comment", "issues/list-comments"}
	if !slices.Equal(ops, want) {
		t.Errorf("operations %q, want %q: PR 7's comment updated, none created on PR 8", ops, want)
	}
	if !strings.Contains(ours.Body, "slipway: passed") || len(api.Comments[8]) != 0 {
		t.Errorf("PR 7's comment %q; PR 8's comments %v", ours.Body, api.Comments[8])
	}
	if cs := reportFile(t).Comment; cs.Action != "updated" || cs.Target != "pull request #7" {
		t.Errorf("report comment status = %+v", cs)
	}

	// A branch with no open pull request: one lookup, nothing else.
	c.Branch = "main"
	notify(t, &Notifier{Outputs: newOutputs(), CI: c}, p, fixedResult(p))
	if _, ops := api.Take(); !slices.Equal(ops, []string{"pulls/list"}) {
		t.Errorf("push to main: operations %q, want the pull request lookup only", ops)
	}
}

func TestCommentNever(t *testing.T) {
	api := newFakeGitHub(t, "")
	p := fixedPlan()
	out := newOutputs()
	notify(t, &Notifier{Outputs: out, CI: githubPR(api), Comment: mode.CommentNever}, p, fixedResult(p))
	if requests, _ := api.Take(); len(requests) > 0 {
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
	if _, ops := api.Take(); !slices.Equal(ops, []string{"users/get-authenticated", "issues/list-comments", "issues/create-comment"}) {
		t.Errorf("operations %q", ops)
	}
	if mine := api.Mine(7); len(mine) != 1 || !strings.Contains(mine[0].Body, "[Jenkins run](https://jenkins.example.com/job/app/job/PR-7/3/)") {
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

// call: check's warnings, each with its file and line, are in the job
// summary and in the pull request's comment; with check=error=true the
// report says the run failed on them.
func TestCheckWarningsReported(t *testing.T) {
	api := newFakeGitHub(t, "")
	p := fixedPlan()
	p.Build.Call = &attrs.Call{Name: "lint"}
	p.Steps = []pipeline.Step{{Stage: pipeline.StageCall, Action: "run the Dockerfile checks"}, {Stage: pipeline.StageReport, Action: "report"}}
	r := &pipeline.Result{
		Call: &pipeline.CallResult{Call: "check", Warnings: []pipeline.CheckWarning{
			{Rule: "FromAsCasing", URL: "https://docs.docker.com/go/dockerfile/rule/from-as-casing/", Detail: "'as' and 'FROM' keywords' casing do not match", File: "app/Dockerfile", Line: 3},
			{Rule: "LegacyKeyValueFormat", Detail: `"ENV key=value" should be used instead of legacy "ENV key value" format`, File: "app/Dockerfile", Line: 4},
		}, Error: "lint violation found for rules: FromAsCasing, LegacyKeyValueFormat"},
		Failed: &p.Steps[0], Error: "call: the Dockerfile checks failed (check=error=true): lint violation found for rules: FromAsCasing, LegacyKeyValueFormat",
	}
	out := newOutputs()
	notify(t, &Notifier{Outputs: out, CI: githubPR(api)}, p, r)
	mine := api.Mine(7)
	if len(mine) != 1 {
		t.Fatalf("%d comments, want 1", len(mine))
	}
	wants := []string{
		"failed at call", "### Dockerfile checks", "2 warnings; nothing was built (call: check).",
		"| `app/Dockerfile:3` | [FromAsCasing](https://docs.docker.com/go/dockerfile/rule/from-as-casing/) | 'as' and 'FROM' keywords' casing do not match |",
		"| `app/Dockerfile:4` | `LegacyKeyValueFormat` | \"ENV key=value\" should be used instead of legacy \"ENV key value\" format |",
		"The Dockerfile sets `check=error=true`: the run fails on them.",
	}
	assertContains(t, "the comment", mine[0].Body, wants...)
	assertContains(t, "the job summary", out.summary, wants...)
}
