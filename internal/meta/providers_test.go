package meta_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/meta"
)

// This file runs every rule type over realistic contexts of each provider:
// GitHub contexts from real webhook payloads (@octokit/webhooks-examples)
// and the GITHUB_* variables the runner sets for them, GitLab and Jenkins
// contexts from the variables those platforms set, and local contexts
// from real git repositories, each read through its ci.Provider.

var now = time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)

// providerContext reads the context of provider name from env.
func providerContext(t *testing.T, name string, env map[string]string, dir string) *ci.Context {
	t.Helper()
	p, err := ci.New(name, ci.Options{Env: environ.Map(env), ContextDir: dir, Offline: true, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Context(context.Background(), func(w string) { t.Logf("warning: %s", w) })
	if err != nil {
		t.Fatalf("%s context: %v", name, err)
	}
	return c
}

func githubContext(t *testing.T, event string, payload map[string]any) *ci.Context {
	return providerContext(t, "github", citest.GitHubEnv(t, event, payload), "")
}

// gitRepo makes a repository with one commit at a fixed date on branch,
// tagged with tags, and returns its directory.
func gitRepo(t *testing.T, branch string, tags ...string) string {
	t.Helper()
	dir := t.TempDir()
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_AUTHOR_DATE=2024-01-02T03:04:05Z",
		"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z")
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q", "-b", branch)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "f")
	run("commit", "-q", "-m", "c")
	run("remote", "add", "origin", "git@github.com:octo-org/app.git")
	for _, tag := range tags {
		run("tag", tag)
	}
	return dir
}

func gitlabEnv(more map[string]string) map[string]string {
	env := map[string]string{
		"GITLAB_CI": "true", "CI_COMMIT_SHA": "b7a1e0c5d4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9",
		"CI_DEFAULT_BRANCH": "main", "CI_PROJECT_URL": "https://gitlab.example.com/group/app",
		"CI_PROJECT_PATH": "group/app", "CI_PROJECT_ID": "10", "CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_TIMESTAMP": "2024-05-01T10:00:00+00:00",
	}
	for k, v := range more {
		env[k] = v
	}
	return env
}

func jenkinsEnv(more map[string]string) map[string]string {
	env := map[string]string{
		"JENKINS_URL": "https://jenkins.example.com/", "GIT_COMMIT": "4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b",
		"GIT_URL": "https://github.com/octo-org/app.git", "BUILD_URL": "https://jenkins.example.com/job/app/1/",
	}
	for k, v := range more {
		env[k] = v
	}
	return env
}

func TestRulesOverProviderContexts(t *testing.T) {
	tagPush := citest.Payload(t, "push", citest.RefPrefix("refs/tags/"))
	citest.Set(tagPush, "ref", "refs/tags/v1.2.3")
	preRelease := citest.Payload(t, "push", citest.RefPrefix("refs/tags/"))
	citest.Set(preRelease, "ref", "refs/tags/v2.0.0-rc.1")
	pr := citest.Payload(t, "pull_request", citest.Action("opened"))
	release := citest.Payload(t, "release", citest.Action("published"))
	citest.Set(release, "release.tag_name", "v1.2.3")
	// What Actions gives a scheduled run (no webhook exists): no
	// repository object, so offline the default branch is unknown and
	// the run is on GITHUB_REF, the default branch ("main" in citest).
	schedule := map[string]any{"schedule": "0 3 * * *"}

	contexts := map[string]*ci.Context{
		"github/branch":              githubContext(t, "push", citest.Payload(t, "push", citest.RefPrefix("refs/heads/"))),
		"github/tag":                 githubContext(t, "push", tagPush),
		"github/prerelease":          githubContext(t, "push", preRelease),
		"github/pull_request":        githubContext(t, "pull_request", pr),
		"github/pull_request_target": githubContext(t, "pull_request_target", pr),
		"github/schedule":            githubContext(t, "schedule", schedule),
		"github/release":             githubContext(t, "release", release),
		"github/workflow_dispatch":   githubContext(t, "workflow_dispatch", citest.Payload(t, "workflow_dispatch", nil)),
		"gitlab/branch":              providerContext(t, "gitlab", gitlabEnv(map[string]string{"CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"}), ""),
		"gitlab/tag":                 providerContext(t, "gitlab", gitlabEnv(map[string]string{"CI_COMMIT_TAG": "v1.2.3", "CI_COMMIT_REF_NAME": "v1.2.3"}), ""),
		"gitlab/mr": providerContext(t, "gitlab", gitlabEnv(map[string]string{"CI_PIPELINE_SOURCE": "merge_request_event",
			"CI_MERGE_REQUEST_IID": "42", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/x",
			"CI_COMMIT_REF_NAME": "feature/x", "CI_MERGE_REQUEST_PROJECT_ID": "10", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "10"}), ""),
		"gitlab/schedule": providerContext(t, "gitlab", gitlabEnv(map[string]string{"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"}), ""),
		"jenkins/branch":  providerContext(t, "jenkins", jenkinsEnv(map[string]string{"BRANCH_NAME": "main"}), ""),
		"jenkins/tag":     providerContext(t, "jenkins", jenkinsEnv(map[string]string{"BRANCH_NAME": "v1.2.3", "TAG_NAME": "v1.2.3"}), ""),
		"jenkins/pr":      providerContext(t, "jenkins", jenkinsEnv(map[string]string{"BRANCH_NAME": "PR-12", "CHANGE_ID": "12", "CHANGE_TARGET": "main", "CHANGE_BRANCH": "fix/typo"}), ""),
		"local/branch":    providerContext(t, "local", nil, gitRepo(t, "feature/y")),
		// HEAD carries several tags: the highest semver one (a release over
		// its own release candidate, any semver over a plain name) wins.
		"local/tag":         providerContext(t, "local", nil, gitRepo(t, "main", "v1.1.0", "v1.2.3-rc.1", "v1.2.3", "build-7")),
		"local/default-tip": providerContext(t, "local", nil, gitRepo(t, "main")),
	}
	ghSHA := contexts["github/branch"].SHA[:7]
	localShort := contexts["local/branch"].SHA[:7]

	// Each rule, alone with flavor latest=false, and the tags it gives in
	// each context; a context not listed gives no tag.
	for _, tc := range []struct {
		rule string
		want map[string][]string
	}{
		{"type=schedule", map[string][]string{"github/schedule": {"nightly"}, "gitlab/schedule": {"nightly"}}},
		{"type=schedule,pattern={{date 'YYYYMMDD-HHmm' tz='Asia/Tokyo'}}", map[string][]string{"github/schedule": {"20240305-1507"}, "gitlab/schedule": {"20240305-1507"}}},
		{"type=semver,pattern={{version}}", map[string][]string{
			"github/tag": {"1.2.3"}, "github/prerelease": {"2.0.0-rc.1"}, "github/release": {"1.2.3"},
			"gitlab/tag": {"1.2.3"}, "jenkins/tag": {"1.2.3"}, "local/tag": {"1.2.3"}}},
		{"type=semver,pattern={{major}}.{{minor}}", map[string][]string{
			// A pre-release only ever gets its full version.
			"github/prerelease": {"2.0.0-rc.1"},
			"github/tag":        {"1.2"}, "github/release": {"1.2"}, "gitlab/tag": {"1.2"}, "jenkins/tag": {"1.2"}, "local/tag": {"1.2"}}},
		{"type=pep440,pattern={{version}}", map[string][]string{
			"github/tag": {"1.2.3"}, "github/prerelease": {"2.0.0rc1"}, "github/release": {"1.2.3"},
			"gitlab/tag": {"1.2.3"}, "jenkins/tag": {"1.2.3"}, "local/tag": {"1.2.3"}}},
		{`type=match,pattern=v(\d+)\.(\d+),group=2`, map[string][]string{
			"github/tag": {"2"}, "github/prerelease": {"0"}, "github/release": {"2"}, "gitlab/tag": {"2"}, "jenkins/tag": {"2"}, "local/tag": {"2"}}},
		{"type=edge", map[string][]string{
			// The schedule run's default branch is unknown offline (see above).
			"github/branch": {"edge"}, "github/workflow_dispatch": {"edge"}, "github/schedule": nil,
			"gitlab/branch": {"edge"}, "gitlab/schedule": {"edge"}, "local/default-tip": {"edge"}}},
		{"type=ref,event=branch", map[string][]string{
			"github/branch": {"master"}, "github/schedule": {"main"}, "github/workflow_dispatch": {"main"}, "github/pull_request_target": nil,
			"gitlab/branch": {"main"}, "gitlab/schedule": {"main"}, "jenkins/branch": {"main"},
			"local/branch": {"feature-y"}, "local/default-tip": {"main"}}},
		{"type=ref,event=tag", map[string][]string{
			"github/tag": {"v1.2.3"}, "github/prerelease": {"v2.0.0-rc.1"}, "github/release": {"v1.2.3"},
			"gitlab/tag": {"v1.2.3"}, "jenkins/tag": {"v1.2.3"}, "local/tag": {"v1.2.3"}}},
		{"type=ref,event=pr", map[string][]string{
			"github/pull_request": {"pr-2"}, "github/pull_request_target": {"pr-2"}, "gitlab/mr": {"pr-42"}, "jenkins/pr": {"pr-12"}}},
		{"type=raw,value=stable,enable={{is_default_branch}}", map[string][]string{
			// metadata-action counts every schedule run as on the default branch.
			"github/branch": {"stable"}, "github/schedule": {"stable"}, "github/workflow_dispatch": {"stable"},
			"gitlab/branch": {"stable"}, "gitlab/schedule": {"stable"},
			"jenkins/branch": nil, "local/default-tip": {"stable"}}},
		{"type=sha", map[string][]string{
			"github/branch": {"sha-" + ghSHA}, "local/branch": {"sha-" + localShort}}},
		{"type=sha,format=long,prefix=", map[string][]string{
			"github/branch": {contexts["github/branch"].SHA}}},
	} {
		spec, err := meta.Parse(meta.Inputs{Images: []string{"ghcr.io/octo-org/app"}, Tags: []string{tc.rule}, Flavor: []string{"latest=false"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		for name, c := range contexts {
			want, listed := tc.want[name]
			if !listed && (tc.rule == "type=sha" || tc.rule == "type=sha,format=long,prefix=") {
				continue // sha tags exist everywhere; two contexts are checked
			}
			res, err := spec.Compute(c, now)
			if err != nil {
				t.Errorf("%s in %s: %v", tc.rule, name, err)
				continue
			}
			if !slices.Equal(res.TagNames, want) {
				t.Errorf("%s in %s: tags %q, want %q", tc.rule, name, res.TagNames, want)
			}
		}
	}
}
