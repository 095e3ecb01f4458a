package ci

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFileOutputs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".slipway") // created on first write
	out := newFileOutputs(dir)
	for _, kv := range [][2]string{
		{"version", "1.2.3"},
		{"image-ref", "ghcr.io/o/r@sha256:abc"},
		{"tags", "a\nb"}, // multi-line: left out of the dotenv file
		{"version", "1.2.4"},
		{"über.thing", "x=y"},
	} {
		if err := out.SetOutput(kv[0], kv[1]); err != nil {
			t.Fatalf("SetOutput(%q): %v", kv[0], err)
		}
	}
	assertFile(t, filepath.Join(dir, "slipway.env"), "VERSION=1.2.4\nIMAGE_REF=ghcr.io/o/r@sha256:abc\n_BER_THING=x=y\n")

	for _, md := range []string{"# Build\n", "done"} {
		if err := out.AddSummary(md); err != nil {
			t.Fatal(err)
		}
	}
	assertFile(t, filepath.Join(dir, "slipway-summary.md"), "# Build\ndone\n")
	out.Mask("secret") // a no-op, which must not fail
}

func TestFileOutputsErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := newFileOutputs(filepath.Join(file, "sub")) // under a file: cannot be created
	if err := out.SetOutput("a", "b"); err == nil {
		t.Error("SetOutput succeeded under a file")
	} else {
		assertContains(t, err.Error(), `setting output "a"`)
	}
	if err := out.AddSummary("x"); err == nil {
		t.Error("AddSummary succeeded under a file")
	}
	if err := out.SetOutput("", "b"); err == nil {
		t.Error("SetOutput accepted an empty name")
	}
}

func TestDotenvKey(t *testing.T) {
	for in, want := range map[string]string{
		"version": "VERSION", "image-ref": "IMAGE_REF", "a.b c": "A_B_C", "OK_9": "OK_9", "é": "_",
	} {
		if got := dotenvKey(in); got != want {
			t.Errorf("dotenvKey(%q) = %q, want %q", in, got, want)
		}
	}
}
