package ship

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// run runs a validator in dir and returns its combined output and exit code.
func run(t *testing.T, dir, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	return out.String(), 0
}

// action-validator (the JSON schemas of action and workflow files) has
// nothing to say about action.yml, the example workflow or the release
// workflow.
func TestActionValidator(t *testing.T) {
	bin := testenv.NodeTool(t, "action-validator")
	root := testenv.RepoRoot(t)
	for _, f := range []string{"action.yml", "examples/github/workflow.yml", "examples/github/matrix.yml", ".github/workflows/release.yml"} {
		t.Run(f, func(t *testing.T) {
			out, code := run(t, root, bin, f)
			if code != 0 || strings.TrimSpace(out) != "" {
				t.Errorf("action-validator %s: exit %d\n%s", f, code, out)
			}
		})
	}
}

// actionlint (ShellCheck included) has nothing to say about the example
// workflows and the release workflow, as they are, nor about the examples
// once they run this checkout's action (uses: ./): then actionlint reads
// action.yml and checks every with: key against its inputs (command,
// partial and from of the matrix example's jobs among them), every
// steps.slipway.outputs.* against its outputs, and that its Dockerfile is
// there.
func TestActionlint(t *testing.T) {
	bin := testenv.GoTool(t, "actionlint")
	root := testenv.RepoRoot(t)
	examples := []string{"examples/github/workflow.yml", "examples/github/matrix.yml"}
	for _, f := range append(examples, ".github/workflows/release.yml") {
		t.Run(f, func(t *testing.T) {
			out, code := run(t, root, bin, "-no-color", f)
			if code != 0 || strings.TrimSpace(out) != "" {
				t.Errorf("actionlint %s: exit %d\n%s", f, code, out)
			}
		})
	}
	for _, f := range examples {
		t.Run("local-action/"+filepath.Base(f), func(t *testing.T) {
			dir := t.TempDir()
			wf, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			const uses = "uses: slipway-ci/slipway@v1"
			if !bytes.Contains(wf, []byte(uses)) {
				t.Fatalf("%s has no %q step", f, uses)
			}
			wf = bytes.ReplaceAll(wf, []byte(uses), []byte("uses: ./"))
			write(t, filepath.Join(dir, ".github/workflows/image.yml"), wf)
			for _, f := range []string{"action.yml", "Dockerfile"} {
				data, err := os.ReadFile(filepath.Join(root, f))
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(dir, f), data)
			}
			out, code := run(t, dir, bin, "-no-color", ".github/workflows/image.yml")
			if code != 0 || strings.TrimSpace(out) != "" {
				t.Errorf("actionlint on %s with uses: ./: exit %d\n%s", f, code, out)
			}
		})
	}
}

// The outputs action.yml declares: metadata-action's and build-push-action's
// names, the scan's counts and files, the signature; the ones slipway
// writes today (internal/report, slipway meta) among them.
var actionOutputs = []string{
	"digest", "imageid", "metadata", "images",
	"version", "tags", "tag-names", "labels", "annotations", "json",
	"vulnerabilities-critical", "vulnerabilities-high", "vulnerabilities-medium", "vulnerabilities-low", "vulnerabilities-unknown",
	"sbom", "sarif",
	"vulnerabilities-new-critical", "vulnerabilities-new-high", "vulnerabilities-new-medium", "vulnerabilities-new-low", "vulnerabilities-new-unknown",
	"vulnerabilities-fixed", "size-delta-bytes", "compare-base",
	"partial-result", "report",
	"signature", "attestations", "verify-command",
}

// action.yml is a Docker container action built from the Dockerfile next
// to it, running the command input (run or merge) with the image's
// entrypoint, branded, with the outputs above, each described. (Its inputs
// are internal/config's tests'.)
func TestActionFile(t *testing.T) {
	var action struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
		Branding    struct {
			Icon  string `yaml:"icon"`
			Color string `yaml:"color"`
		} `yaml:"branding"`
		Outputs yaml.Node `yaml:"outputs"`
		Runs    struct {
			Using string   `yaml:"using"`
			Image string   `yaml:"image"`
			Args  []string `yaml:"args"`
		} `yaml:"runs"`
	}
	readYAML(t, "action.yml", &action)
	if action.Name != "slipway" || action.Description == "" || action.Branding.Icon == "" || action.Branding.Color == "" {
		t.Errorf("name %q, description %q, branding %+v", action.Name, action.Description, action.Branding)
	}
	if action.Runs.Using != "docker" || action.Runs.Image != "Dockerfile" || !slices.Equal(action.Runs.Args, []string{"${{ inputs.command }}"}) {
		t.Errorf("runs = %+v, want using: docker, image: Dockerfile, args: [${{ inputs.command }}]", action.Runs)
	}
	var names []string
	for i := 0; i+1 < len(action.Outputs.Content); i += 2 {
		name := action.Outputs.Content[i].Value
		names = append(names, name)
		var o struct {
			Description string `yaml:"description"`
		}
		if err := action.Outputs.Content[i+1].Decode(&o); err != nil || o.Description == "" {
			t.Errorf("output %s: no description (%v)", name, err)
		}
	}
	if !slices.Equal(names, actionOutputs) {
		t.Errorf("action.yml outputs:\n%q\nwant:\n%q", names, actionOutputs)
	}
}

func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
