package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// NotInstalled is the start of the failure message when a validator that
// hack/testdeps.sh installs is missing.
const NotInstalled = "test dependency not installed: run `make testdeps` (hack/testdeps.sh; make test does)"

// RepoRoot returns the repository's root: the nearest directory above the
// working directory (a test's package directory) holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// FindRepoRoot is RepoRoot for code that has no testing.TB.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// NodeTool returns the path of an npm package's command that
// hack/testdeps.sh installs (hack/testdeps/node_modules/.bin/NAME); it
// fails the test, never skips it, when the command is missing.
func NodeTool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "hack", "testdeps", "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %s: %v", NotInstalled, name, err)
	}
	return p
}

// GoTool returns the path of the Go command hack/testdeps.sh builds as
// $SLIPWAY_CACHE/bin/<name>-<version> (default ~/.cache/slipway), at the
// version the script pins in <NAME>_VERSION; it fails the test when the
// script pins none or the binary is missing.
func GoTool(t testing.TB, name string) string {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "hack", "testdeps.sh")
	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	pin := regexp.MustCompile(`(?m)^` + strings.ToUpper(name) + `_VERSION=(v[0-9.]+)$`)
	m := pin.FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s pins no %s_VERSION", script, strings.ToUpper(name))
	}
	p := filepath.Join(cacheDir(t), "bin", name+"-"+string(m[1]))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %s %s: %v", NotInstalled, name, m[1], err)
	}
	return p
}

// CImageCopy returns the path of cimage-copy, `skopeo copy [--all] --policy`
// built from upstream containers/image (hack/tools/cimage/main.go says how
// to call it), which hack/testdeps.sh builds as
// $SLIPWAY_CACHE/bin/cimage-copy-<hash>: the first 12 hex digits of the
// SHA-256 of hack/tools/cimage's go.mod, go.sum and main.go, one after the
// other. It fails the test when that binary is missing.
func CImageCopy(t testing.TB) string {
	t.Helper()
	src := filepath.Join(RepoRoot(t), "hack", "tools", "cimage")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data)
	}
	hash := hex.EncodeToString(h.Sum(nil))[:12]
	p := filepath.Join(cacheDir(t), "bin", "cimage-copy-"+hash)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: cimage-copy %s: %v", NotInstalled, hash, err)
	}
	return p
}

// cacheDir is ${SLIPWAY_CACHE:-$HOME/.cache/slipway}, as the Makefile and
// hack/ scripts use it.
func cacheDir(t testing.TB) string {
	t.Helper()
	// The build's own cache location, shared with the Makefile and hack/.
	if d := os.Getenv("SLIPWAY_CACHE"); d != "" { //nolint:forbidigo // shared with hack/testdeps.sh
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatalf("%s: no home directory for ~/.cache/slipway: %v", NotInstalled, err)
	}
	return filepath.Join(home, ".cache", "slipway")
}
