package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input: one line on stderr naming the input and what was expected,
// exit 2, nothing on stdout.
func TestBadInput(t *testing.T) {
	cfgDir := t.TempDir()
	unknownKey := filepath.Join(cfgDir, "unknown.yaml")
	if err := os.WriteFile(unknownKey, []byte("imagez: ghcr.io/a/b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"SLIPWAY_CI": "local", "SLIPWAY_IMAGES": "ghcr.io/octo-org/app"}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		words []string // each must appear in the one line
	}{
		{"unknown rule type", []string{"--tags", "type=foo"}, nil, []string{`"tags"`, "foo"}},
		{"enable not a bool", []string{"--tags", "type=sha,enable=maybe"}, nil, []string{`"tags"`, "enable"}},
		{"invalid image", []string{"--images", "ghcr.io/octo org/app"}, nil, []string{`"images"`}},
		{"invalid platform", []string{"--platforms", "linux/amd64,linux/sparc"}, nil, []string{`"platforms"`, "sparc"}},
		{"malformed csv", nil, map[string]string{"SLIPWAY_BUILD_ARGS": `"A=1`}, []string{`"build-args"`, "quote"}},
		{"unreadable config", []string{"--config", "/nonexistent/slipway.yaml"}, nil, []string{`"config"`, "/nonexistent/slipway.yaml"}},
		{"unknown config key", []string{"--config", unknownKey}, nil, []string{`"config"`, "imagez"}},
		{"bad bool input", nil, map[string]string{"INPUT_NO-CACHE": "yes"}, []string{`"no-cache"`, "true or false"}},
		{"unknown flag", []string{"--platfroms", "linux/amd64"}, nil, []string{"platfroms"}},
		{"bad output", []string{"--output", "yaml"}, nil, []string{`"output"`, "text or json"}},
		{"bad ci", []string{"--ci", "travis"}, nil, []string{`"ci"`, "github"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := with(base, tc.env)
			r := slipway(t, "testdata/app", env, append([]string{"run", "--dry-run"}, tc.args...)...)
			line := badInputLine(t, r)
			for _, w := range tc.words {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q lacks %q", line, w)
				}
			}
		})
	}
}

// badInputLine checks that r is bad input as slipway reports it: exit 2,
// nothing on stdout, one line on stderr, which it returns.
func badInputLine(t *testing.T, r result) string {
	t.Helper()
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstderr:\n%.4000s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %.200q, want nothing", r.stdout)
	}
	line := strings.TrimSpace(r.stderr)
	if strings.Contains(line, "\n") {
		t.Errorf("stderr is not one line:\n%.4000s", r.stderr)
	}
	return line
}

func TestVersion(t *testing.T) {
	r := slipway(t, ".", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "slipway ") {
		t.Fatalf("version: exit %d, stdout %q", r.code, r.stdout)
	}
}
