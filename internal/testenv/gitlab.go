package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GitLabTemplateJob is the job name GitLabProject gives the template's job.
const GitLabTemplateJob = "container-image"

// GitLabProject writes files into a git project (GitProject) whose
// .gitlab-ci.yml includes the repository's GitLab template
// (.gitlab/slipway.gitlab-ci.yml, copied in as a local include) with
// job-name GitLabTemplateJob and inputs, the YAML lines of `inputs:`
// beyond it (indented by six spaces); origin is on gitlab.example.com.
func GitLabProject(t testing.TB, files map[string]string, inputs string) string {
	t.Helper()
	return GitLabProjectOf(t, "slipway.gitlab-ci.yml", files, inputs)
}

// GitLabProjectOf is GitLabProject with the template of that name in
// .gitlab (slipway-matrix.gitlab-ci.yml: the platform jobs and the merge
// job, GitLabTemplateJob).
func GitLabProjectOf(t testing.TB, template string, files map[string]string, inputs string) string {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join(RepoRoot(t), ".gitlab", template))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{template: string(tmpl), ".gitlab-ci.yml": `stages: [build]
include:
  - local: ` + template + `
    inputs:
      job-name: ` + GitLabTemplateJob + "\n" + inputs}
	for k, v := range files {
		all[k] = v
	}
	dir := GitProject(t, all)
	Git(t, dir, "remote", "add", "origin", "https://gitlab.example.com/group/app.git")
	return dir
}

// GitLabCILocal runs the template's job of the project dir with
// gitlab-ci-local (pinned in hack/testdeps), its options before the job,
// in an environment of PATH, a home of its own and env; it returns the
// job's log, and fails the test when the job fails. gitlab-ci-local sets
// GITLAB_CI=false: the job gets true, as from a runner.
func GitLabCILocal(t testing.TB, dir string, env []string, options ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	args := append([]string{"--variable", "GITLAB_CI=true", "--ignore-predefined-vars", "GITLAB_CI", "--no-color"}, options...)
	cmd := exec.CommandContext(ctx, NodeTool(t, "gitlab-ci-local"), append(args, GitLabTemplateJob)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1"}, env...) //nolint:forbidigo // the tool's PATH
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	log := out.String()
	if err != nil {
		t.Fatalf("gitlab-ci-local: %v\n%s", err, log)
	}
	if !strings.Contains(log, "PASS") || !strings.Contains(log, GitLabTemplateJob) {
		t.Fatalf("the job did not pass:\n%s", log)
	}
	return log
}

// GitLabArtifacts is where gitlab-ci-local keeps the artifacts of the
// template's job of the project dir.
func GitLabArtifacts(dir string) string {
	return filepath.Join(dir, ".gitlab-ci-local", "artifacts", GitLabTemplateJob)
}
