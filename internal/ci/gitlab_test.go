package ci

import (
	"context"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/environ"
)

// gitlabJob is the environment GitLab sets in every job of the
// group/sub/app project; the cases add what their pipeline sets.
var gitlabJob = map[string]string{
	"GITLAB_CI":              "true",
	"CI":                     "true",
	"CI_COMMIT_SHA":          "1ecfd275763eff1d6b4844ea3168962458c9f27a",
	"CI_COMMIT_TIMESTAMP":    "2024-03-01T12:34:56+01:00",
	"CI_DEFAULT_BRANCH":      "main",
	"CI_PROJECT_ID":          "42",
	"CI_PROJECT_PATH":        "group/sub/app",
	"CI_PROJECT_URL":         "https://gitlab.example.com/group/sub/app",
	"CI_PROJECT_DESCRIPTION": "The app",
	"CI_JOB_URL":             "https://gitlab.example.com/group/sub/app/-/jobs/9001",
	"CI_REGISTRY_IMAGE":      "registry.example.com/group/sub/app",
	"GITLAB_USER_LOGIN":      "alice",
}

func TestGitLabContext(t *testing.T) {
	const sha = "1ecfd275763eff1d6b4844ea3168962458c9f27a"
	base := Context{
		Provider: NameGitLab, SHA: sha,
		Repository: Repository{
			Name: "group/sub/app", URL: "https://gitlab.example.com/group/sub/app",
			Description: "The app", DefaultBranch: "main",
		},
		RunURL:       "https://gitlab.example.com/group/sub/app/-/jobs/9001",
		CommitDate:   time.Date(2024, 3, 1, 12, 34, 56, 0, time.FixedZone("", 3600)),
		Actor:        "alice",
		DefaultImage: "registry.example.com/group/sub/app",
	}
	branchPush := with(base, func(c *Context) {
		c.Event, c.EventName, c.Ref, c.Branch = EventBranchPush, "push", "refs/heads/main", "main"
	})
	mr := with(base, func(c *Context) {
		c.Event, c.EventName, c.Ref, c.PRNumber = EventPullRequest, "pull_request", "refs/pull/7/merge", 7
		c.Branch, c.BaseRef, c.PRHeadSHA = "feature", "main", sha
	})
	mrEnv := []string{
		"CI_PIPELINE_SOURCE", "merge_request_event",
		"CI_COMMIT_REF_NAME", "feature",
		"CI_MERGE_REQUEST_IID", "7",
		"CI_MERGE_REQUEST_PROJECT_ID", "42",
		"CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "42",
		"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature",
		"CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main",
	}
	tests := []struct {
		name string
		env  []string
		want Context
	}{
		{
			name: "branch push",
			env:  []string{"CI_PIPELINE_SOURCE", "push", "CI_COMMIT_BRANCH", "main", "CI_COMMIT_REF_NAME", "main"},
			want: branchPush,
		},
		{
			name: "tag push",
			env:  []string{"CI_PIPELINE_SOURCE", "push", "CI_COMMIT_TAG", "v1.2.3", "CI_COMMIT_REF_NAME", "v1.2.3"},
			want: with(base, func(c *Context) {
				c.Event, c.EventName, c.Ref, c.Tag = EventTagPush, "push", "refs/tags/v1.2.3", "v1.2.3"
			}),
		},
		{
			name: "merge request",
			env:  mrEnv,
			want: mr,
		},
		{
			name: "merged results pipeline",
			env:  append(mrEnv[:len(mrEnv):len(mrEnv)], "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "abc123"),
			want: with(mr, func(c *Context) { c.PRHeadSHA = "abc123" }),
		},
		{
			name: "merge request from a fork",
			env:  append(mrEnv[:len(mrEnv):len(mrEnv)], "CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "77"),
			want: with(mr, func(c *Context) { c.Fork = true }),
		},
		{
			name: "schedule",
			env:  []string{"CI_PIPELINE_SOURCE", "schedule", "CI_COMMIT_BRANCH", "main", "CI_COMMIT_REF_NAME", "main"},
			want: with(branchPush, func(c *Context) { c.Event, c.EventName = EventSchedule, "schedule" }),
		},
		{
			name: "web",
			env:  []string{"CI_PIPELINE_SOURCE", "web", "CI_COMMIT_BRANCH", "main", "CI_COMMIT_REF_NAME", "main"},
			want: with(branchPush, func(c *Context) { c.Event, c.EventName = EventManual, "workflow_dispatch" }),
		},
		{
			name: "trigger on a tag",
			env:  []string{"CI_PIPELINE_SOURCE", "trigger", "CI_COMMIT_TAG", "v2.0.0", "CI_COMMIT_REF_NAME", "v2.0.0"},
			want: with(base, func(c *Context) {
				c.Event, c.EventName, c.Ref, c.Tag = EventManual, "workflow_dispatch", "refs/tags/v2.0.0", "v2.0.0"
			}),
		},
		{
			name: "child pipeline, by its ref",
			env:  []string{"CI_PIPELINE_SOURCE", "parent_pipeline", "CI_COMMIT_REF_NAME", "main"},
			want: branchPush,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(NameGitLab, Options{Env: environ.Map(withEnv(gitlabJob, tt.env...))})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Context(context.Background(), func(w string) { t.Errorf("unexpected warning: %s", w) })
			if err != nil {
				t.Fatal(err)
			}
			assertContext(t, c, &tt.want)
		})
	}
}

func TestGitLabContextBadVariables(t *testing.T) {
	p, _ := New(NameGitLab, Options{Env: environ.Map(withEnv(gitlabJob, "CI_MERGE_REQUEST_IID", "seven"))})
	if _, err := p.Context(context.Background(), nil); err == nil {
		t.Error("no error for CI_MERGE_REQUEST_IID=seven")
	} else {
		assertContains(t, err.Error(), "CI_MERGE_REQUEST_IID")
	}

	p, _ = New(NameGitLab, Options{Env: environ.Map(withEnv(gitlabJob, "CI_COMMIT_TIMESTAMP", "yesterday"))})
	var warnings []string
	c, err := p.Context(context.Background(), func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatal(err)
	}
	if !c.CommitDate.IsZero() || len(warnings) != 1 {
		t.Errorf("CommitDate = %v, warnings = %q; want zero and one warning", c.CommitDate, warnings)
	}
}
