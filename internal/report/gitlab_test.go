package report

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

const glToken = "glpat-faketoken0123456789"

// gitlabMR reads, with the real provider, the context of a merge request
// pipeline of MR !7 in project 42 whose API is api.
func gitlabMR(t *testing.T, api *citest.FakeGitLab, more ...string) *ci.Context {
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
	api := citest.NewFakeGitLab(t, glToken)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	mark := marker(p)
	other := api.Add(7, "mallory", mark+"\nnot slipway's", false)
	api.Add(7, api.User, "changed the description", true) // a system note
	n := &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}

	log := notify(t, n, p, fixedResult(p))
	requests, names := api.Take()
	if want := []string{"get the current user", "list all merge request notes", "create new merge request note"}; !slices.Equal(names, want) {
		t.Errorf("first run: %q, want %q (requests %q)", names, want, requests)
	}
	if requests[1] != "GET /projects/42/merge_requests/7/notes?order_by=created_at&per_page=100&sort=asc" {
		t.Errorf("first run listed %q", requests[1])
	}
	mine := api.Mine(7)
	if len(mine) != 2 || !strings.HasPrefix(mine[1].Body, mark+"\n") {
		t.Fatalf("first run: notes by the token's user %v, want the system note and slipway's", mine)
	}
	note := mine[1]
	assertContains(t, "the note", note.Body, "Commit `0123456` of merge request !7 (`feature/login` → `main`) of `group/app`, [GitLab CI run](https://gitlab.example.com/group/app/-/jobs/9001).")
	assertContains(t, "the log", log, fmt.Sprintf("comment created on merge request !7 https://gitlab.example.com/group/app/-/merge_requests/7#note_%d", note.ID))

	notify(t, n, p, failedResult(p))
	requests, names = api.Take()
	if want := []string{"get the current user", "list all merge request notes", "modify existing merge request note"}; !slices.Equal(names, want) {
		t.Errorf("second run: %q, want %q", names, want)
	}
	if want := fmt.Sprintf("PUT /projects/42/merge_requests/7/notes/%d?", note.ID); requests[2] != want {
		t.Errorf("second run: %q, want %q", requests[2], want)
	}
	assertContains(t, "the updated note", note.Body, "failed at gate")
	if other.Body != mark+"\nnot slipway's" || len(api.Notes[7]) != 3 {
		t.Errorf("another user's note was changed (%q) or notes were added (%d)", other.Body, len(api.Notes[7]))
	}
}

func TestGitLabNotesPaginate(t *testing.T) {
	api := citest.NewFakeGitLab(t, glToken)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	var ours *citest.GitLabNote
	for i := range 230 {
		if i == 220 {
			ours = api.Add(7, api.User, marker(p)+"\nold", false)
		} else {
			api.Add(7, "reviewer", fmt.Sprintf("note %d", i), false)
		}
	}
	notify(t, &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}, p, fixedResult(p))
	requests, names := api.Take()
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
	api := citest.NewFakeGitLab(t, glToken)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	notify(t, &Notifier{Outputs: newOutputs(), CI: c}, p, fixedResult(p))
	if requests, _ := api.Take(); len(requests) > 0 {
		t.Errorf("requests with CI_JOB_TOKEN only: %q", requests)
	}
	assertContains(t, SummaryFile, readFile(t, filepath.Join(".slipway", SummaryFile)),
		"no comment on merge request !7: set gitlab-token (a project access token with api scope) to get an MR note; CI_JOB_TOKEN cannot post notes")
	if cs := reportFile(t).Comment; cs.Action != "skipped" {
		t.Errorf("report comment status = %+v", cs)
	}
}

func TestGitLabForbidden(t *testing.T) {
	api := citest.NewFakeGitLab(t, glToken)
	api.ReadOnly = true
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	r := fixedResult(p)
	notify(t, &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}, p, r)
	if _, names := api.Take(); len(names) != 3 || names[2] != "create new merge request note" {
		t.Errorf("requests: %q", names)
	}
	summary := readFile(t, filepath.Join(".slipway", SummaryFile))
	assertContains(t, SummaryFile, summary, "could not comment on merge request !7: the token may not write comments there (", "403")
	if strings.Contains(summary, glToken) || strings.Contains(strings.Join(r.Warnings, "\n"), glToken) {
		t.Error("the summary or the warnings show the token")
	}
}

func TestGitLabPushUpdatesTheMergeRequestNote(t *testing.T) {
	api := citest.NewFakeGitLab(t, glToken)
	c := gitlabMR(t, api, "CI_PIPELINE_SOURCE", "push", "CI_MERGE_REQUEST_IID", "", "CI_COMMIT_BRANCH", "feature/login")
	if c.PRNumber != 0 || c.Event != ci.EventBranchPush {
		t.Fatalf("context: PR %d, event %s; want a branch push", c.PRNumber, c.Event)
	}
	p := gitlabPlan(c)
	api.MRs["feature/login"] = []int{7}
	ours := api.Add(7, api.User, marker(p)+"\nold", false)
	// A fork's merge request from its own feature/login is not this
	// push's: its note stays as it is.
	api.ForkMRs["feature/login"] = []int{8}
	forks := api.Add(8, api.User, marker(p)+"\nthe fork's", false)
	notify(t, &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}, p, fixedResult(p))
	if forks.Body != marker(p)+"\nthe fork's" {
		t.Errorf("the note on the fork's merge request changed: %q", forks.Body)
	}
	requests, names := api.Take()
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
	api := citest.NewFakeGitLab(t, glToken)
	c := gitlabMR(t, api)
	p := gitlabPlan(c)
	n := &Notifier{Outputs: newOutputs(), CI: c, GitLabToken: glToken}
	notify(t, n, p, comparedResult(p))
	mine := api.Mine(7)
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
