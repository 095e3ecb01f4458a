package ci

import (
	"context"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
)

func TestForge(t *testing.T) {
	ghEnv := citest.GitHubEnv(t, "pull_request", citest.Payload(t, "pull_request", citest.Action("opened")))
	ghEnv["GITHUB_API_URL"] = "https://ghe.example.com/api/v3/"
	ghEnv["GITHUB_REPOSITORY"] = helloWorld
	jenkinsPR := withEnv(jenkinsBuild, "CHANGE_ID", "5", "CHANGE_URL", "https://github.com/acme/widget/pull/5")
	tests := []struct {
		name     string
		provider string
		env      map[string]string
		opts     Options
		want     Forge
	}{
		{
			name: "GitHub: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN", provider: NameGitHub,
			env:  withEnv(ghEnv, "GITHUB_TOKEN", "ghs_env"),
			want: Forge{Kind: ForgeGitHub, APIURL: "https://ghe.example.com/api/v3", Project: helloWorld, Token: "ghs_env"},
		},
		{
			name: "GitHub: the github-token input wins", provider: NameGitHub,
			env: withEnv(ghEnv, "GITHUB_TOKEN", "ghs_env"), opts: Options{GitHubToken: "ghp_input"},
			want: Forge{Kind: ForgeGitHub, APIURL: "https://ghe.example.com/api/v3", Project: helloWorld, Token: "ghp_input"},
		},
		{
			name: "GitHub: default API URL", provider: NameGitHub,
			env:  withEnv(ghEnv, "GITHUB_API_URL", ""),
			want: Forge{Kind: ForgeGitHub, APIURL: "https://api.github.com", Project: helloWorld},
		},
		{
			name: "GitLab merge request: the target project, CI_API_V4_URL, CI_JOB_TOKEN", provider: NameGitLab,
			env: withEnv(gitlabJob, "CI_PIPELINE_SOURCE", "merge_request_event", "CI_MERGE_REQUEST_IID", "7",
				"CI_MERGE_REQUEST_PROJECT_ID", "41", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "77",
				"CI_API_V4_URL", "https://gitlab.example.com/api/v4", "CI_JOB_TOKEN", "job-token"),
			want: Forge{Kind: ForgeGitLab, APIURL: "https://gitlab.example.com/api/v4", Project: "41", JobToken: true},
		},
		{
			name: "GitLab branch: CI_PROJECT_ID, API from CI_SERVER_URL", provider: NameGitLab,
			env:  withEnv(gitlabJob, "CI_COMMIT_BRANCH", "main", "CI_SERVER_URL", "https://gitlab.example.com/"),
			want: Forge{Kind: ForgeGitLab, APIURL: "https://gitlab.example.com/api/v4", Project: "42"},
		},
		{
			name: "Jenkins on github.com", provider: NameJenkins,
			env:  withEnv(jenkinsPR, "GITHUB_TOKEN", "ghp_jenkins"),
			want: Forge{Kind: ForgeGitHub, APIURL: "https://api.github.com", Project: "acme/widget", Token: "ghp_jenkins"},
		},
		{
			name: "Jenkins on GitHub Enterprise, by the pull request URL", provider: NameJenkins,
			env: withEnv(jenkinsPR, "GIT_URL", "git@ghe.example.com:acme/widget.git",
				"CHANGE_URL", "https://ghe.example.com/acme/widget/pull/5"),
			opts: Options{GitHubToken: "ghp_input"},
			want: Forge{Kind: ForgeGitHub, APIURL: "https://ghe.example.com/api/v3", Project: "acme/widget", Token: "ghp_input"},
		},
		{
			name: "Jenkins on GitLab, by the merge request URL", provider: NameJenkins,
			env: withEnv(jenkinsPR, "GIT_URL", "", "GITHUB_TOKEN", "ghp_unused",
				"CHANGE_URL", "https://code.example.com/group/sub/app/-/merge_requests/5"),
			want: Forge{Kind: ForgeGitLab, APIURL: "https://code.example.com/api/v4", Project: "group/sub/app"},
		},
		{
			name: "Jenkins branch build on gitlab.com, by GIT_URL", provider: NameJenkins,
			env:  withEnv(jenkinsBuild, "BRANCH_NAME", "main", "GIT_URL", "https://gitlab.com/group/app.git"),
			want: Forge{Kind: ForgeGitLab, APIURL: "https://gitlab.com/api/v4", Project: "group/app"},
		},
		{
			name: "Jenkins on another host", provider: NameJenkins,
			env: withEnv(jenkinsBuild, "CHANGE_ID", "5", "GIT_URL", "https://bitbucket.example.com/scm/acme/widget.git",
				"CHANGE_URL", "https://bitbucket.example.com/projects/ACME/repos/widget/pull-requests/5"),
			want: Forge{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Env, tt.opts.Offline = environ.Map(tt.env), true
			p, err := New(tt.provider, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Context(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Forge != tt.want {
				t.Errorf("Forge = %+v, want %+v", c.Forge, tt.want)
			}
		})
	}
}
