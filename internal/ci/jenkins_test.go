package ci

import (
	"context"
	"testing"

	"github.com/slipway-ci/slipway/internal/environ"
)

// jenkinsBuild is the environment of every build of a multibranch job.
var jenkinsBuild = map[string]string{
	"JENKINS_URL": "https://jenkins.example.com/",
	"GIT_COMMIT":  "5c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
	"GIT_URL":     "https://github.com/acme/widget.git",
	"BUILD_URL":   "https://jenkins.example.com/job/acme/job/widget/job/main/12/",
}

func TestJenkinsContext(t *testing.T) {
	base := Context{
		Provider:   NameJenkins,
		SHA:        "5c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
		Repository: Repository{Name: "acme/widget", URL: "https://github.com/acme/widget"},
		RunURL:     "https://jenkins.example.com/job/acme/job/widget/job/main/12/",
	}
	branch := with(base, func(c *Context) {
		c.Event, c.EventName, c.Ref, c.Branch = EventBranchPush, "push", "refs/heads/main", "main"
	})
	pr := with(base, func(c *Context) {
		c.Event, c.EventName, c.Ref, c.PRNumber = EventPullRequest, "pull_request", "refs/pull/5/merge", 5
		c.Branch, c.BaseRef, c.Actor = "feature/x", "main", "bob"
	})
	prEnv := []string{
		"BRANCH_NAME", "PR-5", "CHANGE_ID", "5", "CHANGE_TARGET", "main", "CHANGE_BRANCH", "feature/x",
		"CHANGE_AUTHOR", "bob", "CHANGE_URL", "https://github.com/acme/widget/pull/5", "JOB_NAME", "acme/widget/PR-5",
	}
	tests := []struct {
		name string
		env  []string
		want Context
	}{
		{"branch", []string{"BRANCH_NAME", "main", "JOB_NAME", "acme/widget/main"}, branch},
		{"branch of a freestyle job", []string{"GIT_BRANCH", "origin/main"}, branch},
		{
			"tag",
			[]string{"BRANCH_NAME", "v1.0.0", "TAG_NAME", "v1.0.0"},
			with(base, func(c *Context) {
				c.Event, c.EventName, c.Ref, c.Tag = EventTagPush, "push", "refs/tags/v1.0.0", "v1.0.0"
			}),
		},
		{"change request", prEnv, pr},
		{
			"change request from a fork",
			append(prEnv[:len(prEnv):len(prEnv)], "CHANGE_FORK", "mallory/widget"),
			with(pr, func(c *Context) { c.Fork = true }),
		},
		{
			"change request without GIT_URL",
			append(prEnv[:len(prEnv):len(prEnv)], "GIT_URL", ""),
			pr, // named after JOB_NAME, linked after CHANGE_URL
		},
		{
			"no branch",
			nil,
			with(base, func(c *Context) { c.Event, c.EventName = EventManual, "workflow_dispatch" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(NameJenkins, Options{Env: environ.Map(withEnv(jenkinsBuild, tt.env...))})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Context(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			assertContext(t, c, &tt.want)
		})
	}
}

func TestJenkinsContextBadChangeID(t *testing.T) {
	p, _ := New(NameJenkins, Options{Env: environ.Map(withEnv(jenkinsBuild, "CHANGE_ID", "12345/1"))})
	if _, err := p.Context(context.Background(), nil); err == nil {
		t.Error("no error for CHANGE_ID=12345/1")
	}
}
