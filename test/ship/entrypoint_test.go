package ship

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// The image's entry point marks the checkout's directories as safe for
// git, once each however often it runs, and execs slipway with its
// arguments.
func TestEntrypoint(t *testing.T) {
	script := filepath.Join(testenv.RepoRoot(t), "hack", "entrypoint.sh")
	bin, home, work := t.TempDir(), t.TempDir(), t.TempDir()
	// A stand-in slipway: its arguments, then the safe directories.
	write(t, filepath.Join(bin, "slipway"), []byte("#!/bin/sh\necho \"args: $*\"\nexec git config --global --get-all safe.directory\n"))
	if err := os.Chmod(filepath.Join(bin, "slipway"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for range 2 {
		cmd := exec.Command("/bin/sh", script, "run", "--dry-run")
		cmd.Dir = work
		cmd.Env = []string{
			"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "PWD=" + work,
			"CI_PROJECT_DIR=/builds/group/app",
		}
		var err error
		if out, err = cmd.CombinedOutput(); err != nil {
			t.Fatalf("entrypoint: %v\n%s", err, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if want := []string{"args: run --dry-run", "/github/workspace", "/builds/group/app", work}; !slices.Equal(lines, want) {
		t.Errorf("entrypoint printed\n%q\nwant\n%q", lines, want)
	}
}
