package ci

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
)

// Facts of the Codertocat/Hello-World payloads in
// @octokit/webhooks-examples 7.6.1.
const (
	helloWorld     = "Codertocat/Hello-World"
	helloWorldURL  = "https://github.com/Codertocat/Hello-World"
	helloWorldHead = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	prHeadSHA      = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	prBaseSHA      = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
	runURL         = helloWorldURL + "/actions/runs/" + citest.RunID
)

// githubContext reads the context of env offline (no test talks to
// api.github.com), failing the test on an error or a warning.
func githubContext(t *testing.T, env map[string]string) *Context {
	t.Helper()
	p, err := New(NameGitHub, Options{Env: environ.Map(env), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Context(context.Background(), func(w string) { t.Errorf("unexpected warning: %s", w) })
	if err != nil {
		t.Fatalf("Context: %v", err)
	}
	return c
}

func TestGitHubContextFromWebhookPayloads(t *testing.T) {
	pushedTag := func(p map[string]any) bool {
		return citest.RefPrefix("refs/tags/")(p) && p["deleted"] == false
	}
	fromFork := citest.Payload(t, "pull_request", citest.Action("opened"))
	// The examples hold no PR from a fork: make the head repository one.
	citest.Set(fromFork, "pull_request.head.repo.full_name", "octocat/Hello-World")
	citest.Set(fromFork, "pull_request.head.repo.fork", true)
	review := citest.Payload(t, "pull_request_review", citest.Action("submitted"))
	wantRepo := Repository{Name: helloWorld, URL: helloWorldURL, DefaultBranch: "master"}
	pr := Context{
		Provider: NameGitHub, Event: EventPullRequest, EventName: "pull_request",
		Ref: "refs/pull/2/merge", SHA: prHeadSHA, Branch: "changes", PRNumber: 2,
		PRHeadSHA: prHeadSHA, BaseRef: "master", Repository: wantRepo, RunURL: runURL, Actor: "Codertocat",
	}

	tests := []struct {
		name    string
		event   string
		payload map[string]any
		want    Context
	}{
		{
			name:    "push to a branch",
			event:   "push",
			payload: citest.Payload(t, "push", citest.RefPrefix("refs/heads/")),
			want: Context{
				Provider: NameGitHub, Event: EventBranchPush, EventName: "push",
				Ref: "refs/heads/master", SHA: helloWorldHead, Branch: "master", Repository: wantRepo,
				RunURL: runURL, CommitDate: time.Date(2019, 5, 15, 15, 19, 25, 0, time.UTC), Actor: "Codertocat",
			},
		},
		{
			name:    "push of a tag",
			event:   "push",
			payload: citest.Payload(t, "push", pushedTag),
			want: Context{
				Provider: NameGitHub, Event: EventTagPush, EventName: "push",
				Ref: "refs/tags/simple-tag", SHA: helloWorldHead, Tag: "simple-tag", Repository: wantRepo,
				RunURL: runURL, CommitDate: time.Date(2019, 5, 15, 15, 20, 41, 0, time.UTC), Actor: "Codertocat",
			},
		},
		{
			name:    "pull request opened",
			event:   "pull_request",
			payload: citest.Payload(t, "pull_request", citest.Action("opened")),
			want:    pr,
		},
		{
			name:    "pull request opened from a fork",
			event:   "pull_request",
			payload: fromFork,
			want:    with(pr, func(c *Context) { c.Fork = true }),
		},
		{
			name:    "pull_request_target runs on the base branch",
			event:   "pull_request_target",
			payload: citest.Payload(t, "pull_request", citest.Action("opened")),
			want: with(pr, func(c *Context) {
				c.EventName, c.Ref, c.SHA = "pull_request_target", "refs/heads/master", prBaseSHA
			}),
		},
		{
			name:    "pull_request_target from a fork",
			event:   "pull_request_target",
			payload: fromFork,
			want: with(pr, func(c *Context) {
				c.EventName, c.Ref, c.SHA, c.Fork = "pull_request_target", "refs/heads/master", prBaseSHA, true
			}),
		},
		{
			name:    "pull request review",
			event:   "pull_request_review",
			payload: review,
			want: with(pr, func(c *Context) {
				// GITHUB_SHA is the test merge commit, which this payload names.
				c.EventName, c.SHA = "pull_request_review", citest.String(review, "pull_request.merge_commit_sha")
			}),
		},
		{
			name:    "release published",
			event:   "release",
			payload: citest.Payload(t, "release", citest.Action("published")),
			want: Context{
				Provider: NameGitHub, Event: EventRelease, EventName: "release",
				Ref: "refs/tags/0.0.1", SHA: citest.FakeSHA, Tag: "0.0.1", Repository: wantRepo,
				RunURL: runURL, Actor: "Codertocat",
			},
		},
		{
			name:    "workflow_dispatch",
			event:   "workflow_dispatch",
			payload: citest.Payload(t, "workflow_dispatch", citest.RefPrefix("refs/heads/master")),
			want: Context{
				Provider: NameGitHub, Event: EventManual, EventName: "workflow_dispatch",
				Ref: "refs/heads/master", SHA: citest.FakeSHA, Branch: "master",
				Repository: Repository{
					Name: "octo-org/octo-repo", URL: "https://github.com/octo-org/octo-repo",
					Description: "My first repo on GitHub!", DefaultBranch: "master",
				},
				RunURL: "https://github.com/octo-org/octo-repo/actions/runs/" + citest.RunID, Actor: "Codertocat",
			},
		},
		{
			// No webhook exists for schedule: Actions gives the workflow
			// this payload, and GITHUB_* for the default branch.
			name:    "schedule",
			event:   "schedule",
			payload: map[string]any{"schedule": "*/15 * * * *"},
			want: Context{
				Provider: NameGitHub, Event: EventSchedule, EventName: "schedule",
				Ref: "refs/heads/main", SHA: citest.FakeSHA, Branch: "main",
				Repository: Repository{Name: citest.DefaultRepository, URL: "https://github.com/" + citest.DefaultRepository},
				RunURL:     "https://github.com/" + citest.DefaultRepository + "/actions/runs/" + citest.RunID,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := githubContext(t, citest.GitHubEnv(t, tt.event, tt.payload))
			assertContext(t, got, &tt.want)
		})
	}
}

func TestGitHubContextWithoutPayload(t *testing.T) {
	env := map[string]string{
		"GITHUB_ACTIONS":     "true",
		"GITHUB_EVENT_NAME":  "pull_request",
		"GITHUB_REF":         "refs/pull/17/merge",
		"GITHUB_SHA":         helloWorldHead,
		"GITHUB_REPOSITORY":  helloWorld,
		"GITHUB_SERVER_URL":  "https://github.com",
		"GITHUB_RUN_ID":      "99",
		"GITHUB_RUN_ATTEMPT": "3",
		"GITHUB_HEAD_REF":    "feature/x",
		"GITHUB_BASE_REF":    "main",
		"GITHUB_ACTOR":       "octocat",
	}
	want := Context{
		Provider: NameGitHub, Event: EventPullRequest, EventName: "pull_request",
		Ref: "refs/pull/17/merge", SHA: helloWorldHead, Branch: "feature/x", PRNumber: 17, BaseRef: "main",
		Repository: Repository{Name: helloWorld, URL: helloWorldURL},
		RunURL:     helloWorldURL + "/actions/runs/99/attempts/3", Actor: "octocat",
	}
	emptyFile := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(emptyFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"unset":        "",
		"missing file": filepath.Join(t.TempDir(), "nope.json"),
		"empty file":   emptyFile,
	} {
		t.Run(name, func(t *testing.T) {
			env := withEnv(env, "GITHUB_EVENT_PATH", path)
			assertContext(t, githubContext(t, env), &want)
		})
	}
}

func TestGitHubContextReleaseWithoutPayload(t *testing.T) {
	c := githubContext(t, map[string]string{
		"GITHUB_EVENT_NAME": "release",
		"GITHUB_REF":        "refs/tags/v1.2.3",
		"GITHUB_REPOSITORY": helloWorld,
	})
	if c.Event != EventRelease || c.Tag != "v1.2.3" || c.Ref != "refs/tags/v1.2.3" {
		t.Errorf("got Event %q Tag %q Ref %q, want release of v1.2.3", c.Event, c.Tag, c.Ref)
	}
}

func TestGitHubContextPushBaseRef(t *testing.T) {
	payload := citest.Payload(t, "push", citest.RefPrefix("refs/tags/"))
	payload["base_ref"] = "refs/heads/main"
	c := githubContext(t, citest.GitHubEnv(t, "push", payload))
	if c.BaseRef != "main" {
		t.Errorf("BaseRef = %q, want main", c.BaseRef)
	}
}

func TestGitHubContextBadPayload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := New(NameGitHub, Options{Env: environ.Map(map[string]string{"GITHUB_EVENT_PATH": path}), Offline: true})
	_, err := p.Context(context.Background(), nil)
	if err == nil {
		t.Fatal("Context succeeded on an invalid payload")
	}
	assertContains(t, err.Error(), "parsing event payload "+path)
}

func TestPullRequestFromFork(t *testing.T) {
	type headRepo = struct {
		FullName string `json:"full_name"`
		Fork     bool   `json:"fork"`
	}
	tests := []struct {
		name string
		head *headRepo
		base string
		want bool
	}{
		{"same repository", &headRepo{FullName: "o/r"}, "o/r", false},
		{"same repository, other case", &headRepo{FullName: "O/R"}, "o/r", false},
		{"same repository that is itself a fork", &headRepo{FullName: "o/r", Fork: true}, "o/r", false},
		{"other repository", &headRepo{FullName: "x/r"}, "o/r", true},
		{"no names, fork flag", &headRepo{Fork: true}, "", true},
		{"deleted head repository", nil, "o/r", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pr githubPullRequest
			pr.Head.Repo = tt.head
			if got := pr.fromFork(tt.base); got != tt.want {
				t.Errorf("fromFork = %v, want %v", got, tt.want)
			}
		})
	}
}
