package ci

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipway-ci/slipway/internal/environ"
)

// githubOutputs returns outputs writing to files in a temporary directory
// and commands to a buffer.
func githubOutputs(t *testing.T) (out *GitHubOutputs, outputFile, summaryFile string, stdout *bytes.Buffer) {
	dir := t.TempDir()
	outputFile, summaryFile = filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	env := environ.Map(map[string]string{"GITHUB_OUTPUT": outputFile, "GITHUB_STEP_SUMMARY": summaryFile})
	stdout = &bytes.Buffer{}
	return newGitHubOutputs(env, stdout), outputFile, summaryFile, stdout
}

func TestGitHubOutputsSetOutput(t *testing.T) {
	out, outputFile, _, _ := githubOutputs(t)
	if err := out.SetOutput("version", "1.2.3"); err != nil {
		t.Fatal(err)
	}
	if err := out.SetOutput("tags", "ghcr.io/o/r:1.2.3\nghcr.io/o/r:latest"); err != nil {
		t.Fatal(err)
	}
	const d = "_GitHubActionsFileCommandDelimeter_"
	want := "version<<" + d + "\n1.2.3\n" + d + "\n" +
		"tags<<" + d + "\nghcr.io/o/r:1.2.3\nghcr.io/o/r:latest\n" + d + "\n"
	assertFile(t, outputFile, want)
}

func TestGitHubOutputsAddSummary(t *testing.T) {
	out, _, summaryFile, _ := githubOutputs(t)
	for _, md := range []string{"# Build", "| tag |\n|---|"} {
		if err := out.AddSummary(md); err != nil {
			t.Fatal(err)
		}
	}
	assertFile(t, summaryFile, "# Build\n| tag |\n|---|\n")
}

func TestGitHubOutputsErrors(t *testing.T) {
	unwritable := filepath.Join(t.TempDir(), "no-such-dir", "output")
	tests := []struct {
		name    string
		env     map[string]string
		call    func(*GitHubOutputs) error
		wantErr string
	}{
		{"output variable unset", nil, func(o *GitHubOutputs) error { return o.SetOutput("a", "b") }, "GITHUB_OUTPUT is not set"},
		{"summary variable unset", nil, func(o *GitHubOutputs) error { return o.AddSummary("x") }, "GITHUB_STEP_SUMMARY is not set"},
		{"output unwritable", map[string]string{"GITHUB_OUTPUT": unwritable}, func(o *GitHubOutputs) error { return o.SetOutput("a", "b") }, `setting output "a": writing to GITHUB_OUTPUT`},
		{"summary unwritable", map[string]string{"GITHUB_STEP_SUMMARY": unwritable}, func(o *GitHubOutputs) error { return o.AddSummary("x") }, "adding to the job summary: writing to GITHUB_STEP_SUMMARY"},
		{"empty output name", map[string]string{"GITHUB_OUTPUT": unwritable}, func(o *GitHubOutputs) error { return o.SetOutput("", "b") }, "empty output name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := newGitHubOutputs(environ.Map(tt.env), &bytes.Buffer{})
			err := tt.call(out) // must not panic
			if err == nil {
				t.Fatal("no error")
			}
			assertContains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestGitHubOutputsCommands(t *testing.T) {
	out, _, _, stdout := githubOutputs(t)
	out.Mask("s3cret")
	out.Mask("line one\n\nline two\r\n")
	out.Mask("")
	out.Group("Build")
	out.EndGroup()
	want := "::add-mask::s3cret\n::add-mask::line one\n::add-mask::line two\n::group::Build\n::endgroup::\n"
	if got := stdout.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestGitHubOutputsIgnoreBrokenStdout(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // writes now fail, and go-githubactions panics on them
	out := newGitHubOutputs(environ.Map(nil), f)
	out.Mask("x")
	out.Group("g")
	out.EndGroup()
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s:\n%s\nwant:\n%s", filepath.Base(path), got, want)
	}
}
