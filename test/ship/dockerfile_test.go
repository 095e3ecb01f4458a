package ship

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// lint runs BuildKit's Dockerfile checks (the frontend.lint subrequest
// that `docker buildx build --call=check` sends) on dir/Dockerfile with
// the real buildctl and buildkitd of the test environment, experimental
// rules included, for linux/amd64 and linux/arm64. It returns buildctl's
// standard output (the warnings) and its progress on standard error.
//
// The check resolves every stage's base image, and nothing can be pulled
// here: each base image is given as a named context
// (context:golang:1.26-trixie=docker-image://<test registry busybox>), which
// the frontend loads instead of the registry's image. The rules do not
// depend on what the base image holds.
func lint(t *testing.T, e *testenv.Env, dir string) (stdout, stderr string) {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"build", "--progress=plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir,
		"--opt", "requestid=frontend.lint",
		"--opt", "build-arg:BUILDKIT_DOCKERFILE_CHECK=experimental=all",
		"--opt", "platform=linux/amd64,linux/arm64"}
	bases := baseImages(string(df))
	if len(bases) == 0 {
		t.Fatalf("%s/Dockerfile: no base image found", dir)
	}
	for _, b := range bases {
		args = append(args, "--opt", "context:"+b+"=docker-image://"+e.BaseImage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := e.BuildctlCmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("buildctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	// A check that could not run (a base image it could not resolve, a
	// parse error) is no error for buildctl: the result is empty, the
	// failed step is in the progress.
	if regexp.MustCompile(`(?m)^#\d+ ERROR`).MatchString(errb.String()) {
		t.Fatalf("the Dockerfile check did not run:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "load metadata for "+e.BaseImage) {
		t.Fatalf("the check did not load the named contexts (%q):\n%s", bases, errb.String())
	}
	return out.String(), errb.String()
}

var (
	metaArg  = regexp.MustCompile(`^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=("?)([^"\s]*)("?)\s*$`)
	fromLine = regexp.MustCompile(`(?i)^FROM\s+(.*)$`)
)

// baseImages returns the base images of a Dockerfile's stages, as the
// frontend names them: meta ARG defaults expanded, stages and scratch
// left out.
func baseImages(df string) []string {
	args := map[string]string{}
	stages := map[string]bool{"scratch": true}
	seen := map[string]bool{}
	var out []string
	inStages := false
	for _, line := range strings.Split(df, "\n") {
		line = strings.TrimSpace(line)
		if m := metaArg.FindStringSubmatch(line); m != nil && !inStages {
			args[m[1]] = m[3]
			continue
		}
		m := fromLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		inStages = true
		var fields []string
		for _, f := range strings.Fields(m[1]) {
			if !strings.HasPrefix(f, "--") {
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			continue
		}
		base := os.Expand(fields[0], func(k string) string { return args[k] })
		if !stages[strings.ToLower(base)] && !seen[base] {
			seen[base] = true
			out = append(out, base)
		}
		if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
			stages[strings.ToLower(fields[2])] = true
		}
	}
	return out
}

// The repository's Dockerfile passes every BuildKit check, experimental
// ones included.
func TestDockerfileChecks(t *testing.T) {
	e := testenv.Get(t)
	root := testenv.RepoRoot(t)
	if got, want := strings.Join(baseImages(readFile(t, filepath.Join(root, "Dockerfile"))), " "), "golang:1.26-trixie debian:trixie-slim"; got != want {
		t.Errorf("base images %q, want %q", got, want)
	}
	stdout, _ := lint(t, e, root)
	if strings.TrimSpace(stdout) != "" {
		t.Errorf("BuildKit's checks of Dockerfile:\n%s", stdout)
	}
}

// The harness above finds what it should: on a Dockerfile with known
// faults, the warnings are printed.
func TestDockerfileChecksFindProblems(t *testing.T) {
	e := testenv.Get(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Dockerfile"), []byte("ARG BASE=busybox:1.37\nfrom ${BASE} AS Build\nENTRYPOINT echo hi\nFROM build\nRUN true\n"))
	stdout, _ := lint(t, e, dir)
	for _, rule := range []string{"StageNameCasing", "ConsistentInstructionCasing", "JSONArgsRecommended"} {
		if !strings.Contains(stdout, "WARNING: "+rule) {
			t.Errorf("no %s warning in:\n%s", rule, stdout)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
