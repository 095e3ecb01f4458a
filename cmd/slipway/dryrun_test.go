package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// Inputs shared by the provider tests, as a user's workflow would give them.
var dryRunInputs = map[string]string{
	"SLIPWAY_IMAGES":     "ghcr.io/octo-org/app\nregistry.example.com:5000/team/app",
	"SLIPWAY_PLATFORMS":  "linux/amd64,linux/arm64",
	"SLIPWAY_BUILD_ARGS": "VERSION=1\nNPM_TOKEN=npm-secret-value",
	"SLIPWAY_SECRETS":    "GIT_AUTH_TOKEN=inline-secret-value",
	"SLIPWAY_COSIGN_KEY": "env://COSIGN_PRIVATE_KEY",
	"SLIPWAY_CACHE_TO":   "type=registry,ref=ghcr.io/octo-org/app:buildcache,mode=max",
	"SOURCE_DATE_EPOCH":  "1700000000",
}

var secretValues = []string{"npm-secret-value", "inline-secret-value", "ghp_token_value"}

// checkNoSecrets fails when a secret shows anywhere but in the
// ::add-mask:: commands that tell GitHub's runner to hide it (the runner
// consumes those lines; they are never displayed).
func checkNoSecrets(t *testing.T, r result) {
	t.Helper()
	for _, line := range strings.Split(r.stdout+r.stderr, "\n") {
		if strings.HasPrefix(line, "::add-mask::") {
			continue
		}
		for _, s := range secretValues {
			if strings.Contains(line, s) {
				t.Errorf("output shows the secret %q: %q", s, line)
			}
		}
	}
}

func with(base map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{dryRunInputs, base, more} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// checkDryRun runs `slipway run --dry-run --output json` in dir with env,
// checks that it succeeded without showing a secret, and compares the plan
// with testdata/plans/<name>.json.
func checkDryRun(t *testing.T, name, dir string, env map[string]string, command ...string) {
	t.Helper()
	if command == nil {
		command = []string{"run"}
	}
	r := slipway(t, dir, env, append(command, "--dry-run", "--output", "json")...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	checkNoSecrets(t, r)
	var plan map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatalf("stdout is not the JSON plan: %v\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "Steps") || !strings.Contains(r.stderr, "dry run: nothing was built") {
		t.Errorf("stderr lacks the human plan:\n%s", r.stderr)
	}
	golden(t, filepath.Join("plans", name+".json"), r.stdout)
}

func TestDryRunGitHub(t *testing.T) {
	tag := citest.Payload(t, "push", citest.RefPrefix("refs/tags/"))
	citest.Set(tag, "ref", "refs/tags/v1.4.2")
	pr := citest.Payload(t, "pull_request", citest.Action("opened"))
	for _, tc := range []struct {
		name    string
		event   string
		payload map[string]any
	}{
		{"github-tag", "push", tag},
		{"github-pr", "pull_request", pr},
		{"github-branch", "push", citest.Payload(t, "push", citest.RefPrefix("refs/heads/"))},
		{"github-release", "release", citest.Payload(t, "release", citest.Action("published"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := citest.GitHubEnv(t, tc.event, tc.payload)
			env["GITHUB_TOKEN"] = "ghp_token_value"
			env["GITHUB_API_URL"] = "http://127.0.0.1:9" // must not be contacted in a dry run
			checkDryRun(t, tc.name, "testdata/app", with(env, nil))
		})
	}
}

func TestDryRunGitLab(t *testing.T) {
	base := map[string]string{
		"GITLAB_CI": "true", "CI": "true",
		"CI_COMMIT_SHA":       "b7a1e0c5d4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9",
		"CI_DEFAULT_BRANCH":   "main",
		"CI_PROJECT_URL":      "https://gitlab.example.com/group/app",
		"CI_PROJECT_PATH":     "group/app",
		"CI_JOB_URL":          "https://gitlab.example.com/group/app/-/jobs/77",
		"CI_REGISTRY_IMAGE":   "registry.gitlab.example.com/group/app",
		"SLIPWAY_IMAGES":      "", // images default to CI_REGISTRY_IMAGE
		"CI_COMMIT_TIMESTAMP": "2024-05-01T10:00:00+00:00",
	}
	t.Run("gitlab-mr", func(t *testing.T) {
		checkDryRun(t, "gitlab-mr", "testdata/app", with(base, map[string]string{
			"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_REF_NAME": "feature/login",
			"CI_MERGE_REQUEST_IID": "42", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
			"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
			"CI_MERGE_REQUEST_PROJECT_ID":         "10", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "10", "CI_PROJECT_ID": "10",
		}))
	})
	t.Run("gitlab-schedule", func(t *testing.T) {
		checkDryRun(t, "gitlab-schedule", "testdata/app", with(base, map[string]string{
			"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main",
		}))
	})
}

func TestDryRunJenkins(t *testing.T) {
	checkDryRun(t, "jenkins-pr", "testdata/app", with(map[string]string{
		"JENKINS_URL": "https://jenkins.example.com/", "BUILD_URL": "https://jenkins.example.com/job/app/job/PR-12/3/",
		"GIT_COMMIT": "4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b", "BRANCH_NAME": "PR-12", "CHANGE_ID": "12",
		"CHANGE_TARGET": "main", "CHANGE_BRANCH": "fix/typo", "CHANGE_FORK": "contributor",
		"GIT_URL": "https://github.com/octo-org/app.git", "JOB_NAME": "app/PR-12",
	}, nil))
}

func TestDryRunLocal(t *testing.T) {
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	testenv.Git(t, dir, "remote", "add", "origin", "https://github.com/octo-org/app.git")
	for _, tag := range []string{"v0.9.0", "v1.0.0-rc.1", "v1.0.0"} {
		testenv.Git(t, dir, "tag", tag)
	}
	checkDryRun(t, "local-tag", dir, with(nil, nil))
}

// slipway promote's plan: the source read and verified, judged, copied
// to both repositories of images, tagged; no build, no signing.
func TestDryRunPromote(t *testing.T) {
	dir := testenv.GitProject(t, map[string]string{"README": "no Dockerfile: promote builds nothing\n"})
	testenv.Git(t, dir, "remote", "add", "origin", "https://github.com/octo-org/app.git")
	checkDryRun(t, "local-promote", dir, with(nil, map[string]string{"SLIPWAY_TAGS": "v1.4.2\nstable", "SLIPWAY_IMAGES": ""}),
		"promote", "ghcr.io/octo-org/app@sha256:"+strings.Repeat("ab", 32), "--to", "prod.example.com/octo/app", "--to", "ghcr.io/octo-org/app-prod")
}

// A builder of several nodes: the plan names each node and the
// platforms it builds, in JSON and for a person.
func TestDryRunBuilderNodes(t *testing.T) {
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	testenv.Git(t, dir, "remote", "add", "origin", "https://github.com/octo-org/app.git")
	env := with(nil, map[string]string{
		"SLIPWAY_BUILDER":   "tcp://amd64:1234 platforms=linux/amd64\ntcp://arm64:1234 platforms=linux/arm64 tls-ca=/certs/ca.pem\nunix:///run/buildkit/buildkitd.sock fallback=true",
		"SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64,linux/riscv64",
	})
	checkDryRun(t, "local-nodes", dir, env)
	r := slipway(t, dir, env, "run", "--dry-run")
	for _, want := range []string{`builder\s+3 BuildKit nodes\n`, `node tcp://arm64:1234\s+linux/arm64\n`, `node unix:///run/buildkit/buildkitd.sock\s+linux/riscv64 \(fallback: may emulate\)\n`} {
		if !regexp.MustCompile(want).MatchString(r.stderr + r.stdout) {
			t.Errorf("the plan lacks %s:\n%s", want, r.stderr+r.stdout)
		}
	}
}
