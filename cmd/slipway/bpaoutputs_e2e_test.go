package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/report"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// loadDockerfile's image says it was built when it runs.
const loadDockerfile = `ARG BASE
FROM ${BASE}
RUN echo built by slipway > /built.txt
CMD ["cat", "/built.txt"]
`

// checkDockerfile breaks two of BuildKit's Dockerfile checks: FROM with a
// lowercase "as" (FromAsCasing, line 2) and ENV without "="
// (LegacyKeyValueFormat, line 3).
const checkDockerfile = `ARG BASE=scratch
FROM ${BASE} as base
ENV GREETING hello
RUN echo $GREETING > /g.txt
FROM base AS final
`

// build-push-action's outputs, load and attests on the real BuildKit and
// the test dockerd: outputs type=local and type=tar leave the build's
// files beside slipway's layout; load makes the image runnable with
// docker run under its tag, with the ID the layout's config has; attests
// type=provenance,mode=max replaces provenance's default (the predicate
// carries the build's definition, which mode=min leaves out) and
// disabled=true turns it off; entries that would replace the push, and
// load with two platforms, are input errors naming the input.
func TestBuildPushActionOutputsAndLoad(t *testing.T) {
	e := testenv.Get(t)
	host, _ := e.Docker(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": loadDockerfile})
	repo := e.UniqueRepo(t, "load")
	files := t.TempDir()
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_PUSH": "false", "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_IMAGES": repo, "SLIPWAY_TAGS": "type=raw,value=loaded",
		"SLIPWAY_LOAD": "true", "DOCKER_HOST": host,
		"SLIPWAY_OUTPUTS": "type=local,dest=" + filepath.Join(files, "fs") + "\ntype=tar,dest=" + filepath.Join(files, "fs.tar"),
		"SLIPWAY_ATTESTS": "type=provenance,mode=max",
	})
	res, _ := runResult(t, dir, env)
	if got := doneStages(res); got != "build load report" {
		t.Errorf("steps done: %s, want build load report", got)
	}

	// outputs: the files of the build.
	if b, err := os.ReadFile(filepath.Join(files, "fs", "built.txt")); err != nil || string(b) != "built by slipway\n" {
		t.Errorf("outputs type=local: built.txt = %q, %v", b, err)
	}
	if got := tarFile(t, filepath.Join(files, "fs.tar"), "built.txt"); got != "built by slipway\n" {
		t.Errorf("outputs type=tar: built.txt = %q", got)
	}

	// load: docker run by the tag, the image the layout holds.
	if res.Load == nil || len(res.Build.Platforms) != 1 {
		t.Fatalf("no load result, or not one platform: %+v %+v", res.Load, res.Build.Platforms)
	}
	tag := repo + ":loaded"
	t.Cleanup(func() { _, _ = docker(host, "rmi", "-f", tag) })
	if out, err := docker(host, "run", "--rm", tag); err != nil || out != "built by slipway\n" {
		t.Errorf("docker run %s: %q, %v", tag, out, err)
	}
	id, err := docker(host, "image", "inspect", "--format", "{{.Id}}", tag)
	if want := res.Build.Platforms[0].Config.String(); err != nil || strings.TrimSpace(id) != want || res.Load.ImageID.String() != want {
		t.Errorf("the Engine's image ID %q (%v), load's %s, want the layout's config %s", id, err, res.Load.ImageID, want)
	}

	// attests: mode=max's provenance carries the build definition.
	var prov map[string]any
	for k, img := range layoutImages(t, res.Build.LayoutDir, res.Build.DigestStr()) {
		if strings.HasPrefix(k, "attestation:") {
			prov = provenancePredicate(t, img)
		}
	}
	if prov == nil {
		t.Fatal("no provenance attestation in the layout")
	}
	// SLSA v1 (BuildKit's default now) keeps it under
	// buildDefinition.internalParameters, v0.2 at the top.
	def, _ := prov["buildDefinition"].(map[string]any)
	internal, _ := def["internalParameters"].(map[string]any)
	if internal["buildConfig"] == nil && prov["buildConfig"] == nil {
		t.Errorf("attests type=provenance,mode=max: the predicate has no buildConfig (mode=min's): keys %v, internal parameters %v", keys(prov), keys(internal))
	}
	env["SLIPWAY_ATTESTS"] = "type=provenance,disabled=true"
	env["SLIPWAY_LOAD"], env["SLIPWAY_OUTPUTS"] = "false", ""
	off, _ := runResult(t, dir, env)
	for k := range layoutImages(t, off.Build.LayoutDir, off.Build.DigestStr()) {
		if strings.HasPrefix(k, "attestation:") {
			t.Errorf("attests type=provenance,disabled=true: the layout still holds %s", k)
		}
	}

	// Refused up front: exit 2, one line naming the input.
	for input, kv := range map[string][2]string{
		"outputs": {"SLIPWAY_OUTPUTS", "type=registry,name=" + repo},
		"load":    {"SLIPWAY_PLATFORMS", "linux/amd64,linux/arm64"},
		"attests": {"SLIPWAY_ATTESTS", "type=vex"},
		"call":    {"SLIPWAY_CALL", "lint-everything"},
	} {
		bad := buildEnv(t, e, env)
		bad["SLIPWAY_LOAD"] = "true"
		bad[kv[0]] = kv[1]
		r := slipway(t, dir, bad, "run")
		if r.code != 2 || !strings.Contains(lastLine(r.stderr), `input "`+input+`"`) {
			t.Errorf("%s=%s: exit %d, want 2 naming %s:\n%s", kv[0], kv[1], r.code, input, r.stderr)
		}
	}
}

// call on the real BuildKit, as docker buildx build --call: check reports
// each of a bad Dockerfile's warnings with its file and line on stdout
// and in the summary, builds nothing and passes; with check=error=true it
// fails; targets prints the stages; nothing is built in any.
func TestBuildPushActionCall(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": checkDockerfile})
	env := buildEnv(t, e, map[string]string{"SLIPWAY_CONTEXT": dir, "SLIPWAY_PUSH": "false", "SLIPWAY_CALL": "check"})
	r := slipway(t, dir, env, "run")
	if r.code != 0 {
		t.Fatalf("call check: exit %d, want 0 (warnings only)\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"Check complete, 2 warnings have been found!", "WARNING: FromAsCasing", "WARNING: LegacyKeyValueFormat"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("call check's stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	out := env["SLIPWAY_OUTPUT_DIR"]
	summary := readText(t, filepath.Join(out, report.SummaryFile))
	file := filepath.Join(dir, "Dockerfile")
	for _, want := range []string{"### Dockerfile checks", "`" + file + ":2`", "FromAsCasing", "`" + file + ":3`", "LegacyKeyValueFormat"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "oci", "index.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("call check built something: %s/oci/index.json: %v", out, err)
	}

	// check=error=true: the same warnings fail the run.
	strict := testenv.GitProject(t, map[string]string{"Dockerfile": "# check=error=true\n" + checkDockerfile})
	env["SLIPWAY_CONTEXT"] = strict
	env["SLIPWAY_OUTPUT_DIR"] = filepath.Join(t.TempDir(), "out")
	r = slipway(t, strict, env, "run", "--output", "json")
	var res pipeline.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 1 || res.Call == nil || len(res.Call.Warnings) != 2 || res.Call.Error == "" {
		t.Errorf("check=error=true: exit %d (want 1), result %+v (%v)\n%s", r.code, res.Call, err, r.stderr)
	} else if w := res.Call.Warnings[0]; w.File != filepath.Join(strict, "Dockerfile") || w.Line != 3 {
		t.Errorf("the first warning is at %s, want the Dockerfile's line 3 (after the directive)", w.Where())
	}
	if summary := readText(t, filepath.Join(env["SLIPWAY_OUTPUT_DIR"], report.SummaryFile)); !strings.Contains(summary, "check=error=true") || !strings.Contains(summary, "failed at call") {
		t.Errorf("the summary of the failed check:\n%s", summary)
	}

	// targets: buildx's table of the stages, exit 0.
	env["SLIPWAY_CONTEXT"], env["SLIPWAY_CALL"] = dir, "targets"
	r = slipway(t, dir, env, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "TARGET") || !strings.Contains(r.stdout, "base") || !strings.Contains(r.stdout, "final (default)") {
		t.Errorf("call targets: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// docker runs the docker CLI against host and returns its stdout.
func docker(host string, args ...string) (string, error) {
	cmd := exec.Command("docker", append([]string{"-H", host}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), errors.New(err.Error() + ": " + stderr.String())
	}
	return string(out), nil
}

// tarFile is the content of name in the tar file at path.
func tarFile(t *testing.T, path, name string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, path, err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// provenancePredicate is the SLSA predicate of an attestation manifest's
// provenance layer.
func provenancePredicate(t *testing.T, img v1.Image) map[string]any {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			PredicateType string         `json:"predicateType"`
			Predicate     map[string]any `json:"predicate"`
		}
		err = json.NewDecoder(rc).Decode(&st)
		rc.Close()
		if err == nil && strings.Contains(st.PredicateType, "slsa.dev/provenance") {
			return st.Predicate
		}
	}
	return nil
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
