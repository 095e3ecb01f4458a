package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/build/dockerdriver"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// Each way slipway finds a builder, for real. The builders that slipway
// starts itself reach the test registry as localhost:<port>
// (testenv.Env.LocalhostRef).

// noBuilderEnv is a build environment with no builder configured: no
// BUILDKIT_HOST, no Docker Engine, no buildkitd on PATH.
func noBuilderEnv(t *testing.T, e *testenv.Env, dir string, more map[string]string) map[string]string {
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT":    dir,
		"SLIPWAY_BUILD_ARGS": "BASE=" + e.LocalhostRef(e.BaseImage),
		"SLIPWAY_IMAGES":     e.LocalhostRef(e.UniqueRepo(t, "builder")),
		"PATH":               "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	})
	delete(env, "BUILDKIT_HOST")
	for k, v := range more {
		env[k] = v
	}
	return env
}

const builderDockerfile = "ARG BASE\nFROM ${BASE}\nRUN echo built > /built\n"

// Path 2: a BuildKit container that slipway starts through the Docker
// Engine's API, as in a GitHub container action.
func TestBuilderDockerContainer(t *testing.T) {
	e := testenv.Get(t)
	if e.DockerHost == "" || e.BuildkitImage == "" {
		t.Fatal("the test environment runs no dockerd (SLIPWAY_TEST_DOCKER=0?): this test needs it")
	}
	e.LockDockerBuilder(t)
	t.Cleanup(func() {
		if err := dockerdriver.Remove(context.Background(), dockerdriver.Options{Host: e.DockerHost}, true); err != nil {
			t.Errorf("removing the BuildKit container: %v", err)
		}
	})
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	env := noBuilderEnv(t, e, dir, map[string]string{"DOCKER_HOST": e.DockerHost, "SLIPWAY_BUILDKIT_IMAGE": e.BuildkitImage})
	res, r := runResult(t, dir, env)
	if !strings.Contains(r.stderr, "builder: a BuildKit container") {
		t.Errorf("stderr does not say a BuildKit container was used:\n%s", r.stderr)
	}
	registryHas(t, strings.Replace(env["SLIPWAY_IMAGES"], "localhost:", "127.0.0.1:", 1), res.Build.DigestStr())
	// A second run reuses the container.
	_, r = runResult(t, dir, env)
	if strings.Contains(r.stderr, "creating") {
		t.Errorf("second run did not reuse the container:\n%s", r.stderr)
	}
}

// Path 3: buildkitd on PATH, slipway running as root: an embedded child,
// stopped again when the run ends.
func TestBuilderEmbedded(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	env := noBuilderEnv(t, e, dir, nil)
	env["PATH"] = filepath.Dir(e.BuildkitdPath) + ":" + env["PATH"]
	env["TMPDIR"] = t.TempDir()
	res, r := runResult(t, dir, env)
	if !strings.Contains(r.stderr, "embedded buildkitd") {
		t.Errorf("stderr does not say an embedded buildkitd was used:\n%s", r.stderr)
	}
	registryHas(t, strings.Replace(env["SLIPWAY_IMAGES"], "localhost:", "127.0.0.1:", 1), res.Build.DigestStr())
	left, _ := filepath.Glob(filepath.Join(env["TMPDIR"], "slipway-buildkitd-*"))
	if len(left) != 0 {
		t.Errorf("the embedded buildkitd's directory is still there: %v", left)
	}
}

// Path 4: none of the three: one error naming them, exit 1.
func TestBuilderNone(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	r := slipway(t, dir, noBuilderEnv(t, e, dir, nil), "run")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	last := lastLine(r.stderr)
	for _, w := range []string{"no BuildKit builder", "BUILDKIT_HOST", "Docker Engine", "buildkitd on PATH"} {
		if !strings.Contains(last, w) {
			t.Errorf("error %q does not mention %q", last, w)
		}
	}
}

func TestBuilderUnreachable(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	sock := filepath.Join(t.TempDir(), "nobody-listens.sock")
	r := slipway(t, dir, noBuilderEnv(t, e, dir, map[string]string{"SLIPWAY_BUILDER": "unix://" + sock}), "run")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "cannot reach BuildKit at unix://"+sock) {
		t.Fatalf("exit %d, want 1 naming the builder\n%s", r.code, r.stderr)
	}
}

func TestBuildBrokenDockerfile(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUNN echo typo\n"})
	env := buildEnv(t, e, map[string]string{"SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage, "SLIPWAY_PUSH": "false"})
	r := slipway(t, dir, env, "run")
	want := filepath.Join(dir, "Dockerfile") + ":3"
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), want) {
		t.Fatalf("exit %d, want 1 and an error naming %s\n%s", r.code, want, r.stderr)
	}
}

// A secret whose variable is not set is bad input: exit 2, nothing built.
func TestBuildSecretEnvMissing(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	env := buildEnv(t, e, map[string]string{"SLIPWAY_CONTEXT": dir, "SLIPWAY_SECRETS": "id=tok,env=NOT_SET_ANYWHERE"})
	r := slipway(t, dir, env, "run")
	if r.code != 2 || !strings.Contains(r.stderr, `"secrets"`) || !strings.Contains(r.stderr, "NOT_SET_ANYWHERE") {
		t.Fatalf("exit %d, want 2 naming the secret's variable\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "oci")); err == nil {
		t.Error("a build ran")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Four runs at once through the Docker Engine, from no BuildKit
// container (a self-hosted runner's parallel jobs): one container is
// created, the others wait for it and reuse it, and all four publish.
func TestConcurrentRunsShareTheDockerBuilder(t *testing.T) {
	e := testenv.Get(t)
	if e.DockerHost == "" || e.BuildkitImage == "" {
		t.Fatal("the test environment runs no dockerd (SLIPWAY_TEST_DOCKER=0?): this test needs it")
	}
	e.LockDockerBuilder(t)
	o := dockerdriver.Options{Host: e.DockerHost}
	if err := dockerdriver.Remove(context.Background(), o, false); err != nil {
		t.Fatalf("removing the BuildKit container: %v", err)
	}
	t.Cleanup(func() {
		if err := dockerdriver.Remove(context.Background(), o, true); err != nil {
			t.Errorf("removing the BuildKit container: %v", err)
		}
	})
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	type run struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
		repo           string
	}
	runs := make([]*run, 4)
	for i := range runs {
		env := noBuilderEnv(t, e, dir, map[string]string{"DOCKER_HOST": e.DockerHost, "SLIPWAY_BUILDKIT_IMAGE": e.BuildkitImage})
		r := &run{repo: env["SLIPWAY_IMAGES"]}
		r.cmd = slipwayCmd(t, dir, env, "run")
		r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
		runs[i] = r
	}
	for _, r := range runs {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	created, reused := 0, 0
	for i, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("run %d: %v\nstderr:\n%s", i, err, r.stderr.String())
			continue
		}
		created += strings.Count(r.stderr.String(), "starting BuildKit container ")
		reused += strings.Count(r.stderr.String(), "reusing BuildKit container ")
		want := r.repo + "@sha256:"
		if !strings.HasPrefix(r.stdout.String(), want) {
			t.Errorf("run %d printed %q, want %s…", i, r.stdout.String(), want)
		}
	}
	if created != 1 || reused != 3 {
		t.Errorf("%d containers created and %d reused by four runs, want 1 and 3", created, reused)
	}
}
