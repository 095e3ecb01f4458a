package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, DefaultFile), `
target: from-file
file: from-file.Dockerfile
platforms: [linux/amd64, "linux/arm64,linux/arm/v7"]
tags:
  - type=ref,event=branch
  - type=semver,pattern={{version}}
no-cache: true
progress: plain
`)
	env := environ.Map(map[string]string{
		"SLIPWAY_CONTEXT":   dir,
		"SLIPWAY_TARGET":    "from-env",
		"INPUT_TARGET":      "from-github",
		"INPUT_FILE":        "from-github.Dockerfile",
		"INPUT_BUILD-ARGS":  "A=1\nB=2,3",
		"INPUT_PUSH":        "", // GitHub sets every declared input; empty is "not given"
		"SLIPWAY_PROGRESS":  "tty",
		"INPUT_UNKNOWN-ONE": "x",
		// An earlier GitLab job's slipway.env: no input, no warning.
		"SLIPWAY_RESULT_TAGS": "ghcr.io/acme/app:v1",
	})
	var warnings []string
	l, err := Load(Options{
		Flags: map[string]string{"progress": "rawjson"},
		Env:   env,
		Warn:  func(s string) { warnings = append(warnings, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	for _, tc := range []struct {
		name, got, want string
		src             Source
	}{
		{"progress", c.Progress, "rawjson", FromFlag},
		{"target", c.Target, "from-env", FromEnv},
		{"file", c.File, "from-github.Dockerfile", FromGitHub},
		{"context", c.Context, dir, FromEnv},
		{"push", string(c.Push), "auto", FromDefault},
	} {
		if tc.got != tc.want || l.Origin[tc.name] != tc.src {
			t.Errorf("%s = %q from %s, want %q from %s", tc.name, tc.got, l.Origin[tc.name], tc.want, tc.src)
		}
	}
	if want := []string{"A=1", "B=2,3"}; !slices.Equal(c.BuildArgs, want) {
		t.Errorf("build-args = %q, want %q", c.BuildArgs, want)
	}
	if want := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}; !slices.Equal(c.Platforms, want) {
		t.Errorf("platforms = %q, want %q", c.Platforms, want)
	}
	if want := []string{"type=ref,event=branch", "type=semver,pattern={{version}}"}; !slices.Equal(c.Tags, want) {
		t.Errorf("tags = %q, want %q", c.Tags, want)
	}
	if !c.NoCache || l.Origin["no-cache"] != FromFile {
		t.Errorf("no-cache = %v from %s, want true from file", c.NoCache, l.Origin["no-cache"])
	}
	if want := []string{"CRITICAL", "HIGH"}; !slices.Equal(c.Severity, want) {
		t.Errorf("severity default = %q, want %q", c.Severity, want)
	}
	if l.File != filepath.Join(dir, DefaultFile) {
		t.Errorf("File = %q", l.File)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "INPUT_UNKNOWN-ONE") {
		t.Errorf("warnings = %q, want one about INPUT_UNKNOWN-ONE", warnings)
	}
}

func TestLoadMetadataEnv(t *testing.T) {
	l, err := Load(Options{Env: environ.Map(map[string]string{
		"DOCKER_METADATA_SHORT_SHA_LENGTH":   "12",
		"DOCKER_METADATA_PR_HEAD_SHA":        "true",
		"DOCKER_METADATA_ANNOTATIONS_LEVELS": "manifest,index",
		"SOURCE_DATE_EPOCH":                  "1578616200",
		"SIGSTORE_ID_TOKEN":                  "eyJ...",
		"SLIPWAY_CONTEXT":                    t.TempDir(),
	})})
	if err != nil {
		t.Fatal(err)
	}
	m := l.Metadata
	if m.ShortSHALength != 12 || !m.PRHeadSHA || !slices.Equal(m.AnnotationLevels, []string{"manifest", "index"}) {
		t.Errorf("Metadata = %+v", m)
	}
	if want := time.Date(2020, 1, 10, 0, 30, 0, 0, time.UTC); !l.Now.Equal(want) {
		t.Errorf("Now = %v, want %v", l.Now, want)
	}
	if !l.OIDC {
		t.Error("OIDC = false with SIGSTORE_ID_TOKEN set")
	}
}

// Every bad input is one *errs.InputError naming the input.
func TestLoadBadInput(t *testing.T) {
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM scratch\n")
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, badFile, "tags: [a]\nplatfroms: linux/amd64\n")
	notYAML := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, notYAML, "tags: [a\n")
	for _, tc := range []struct {
		name  string
		flags map[string]string
		env   map[string]string
		input string // the input the error must name
		text  string // and a word of what was expected
	}{
		{"bool", map[string]string{"no-cache": "yes"}, nil, "no-cache", "true or false"},
		{"enum", map[string]string{"push": "sometimes"}, nil, "push", "auto, true, false"},
		{"platform", map[string]string{"platforms": "linux/amd65"}, nil, "platforms", "architecture"},
		{"platform form", map[string]string{"platforms": "Linux AMD64"}, nil, "platforms", "os/arch"},
		{"csv", map[string]string{"tags": `type=raw,"value=x`}, nil, "tags", "malformed"},
		{"config unreadable", map[string]string{"config": "/nonexistent/slipway.yaml"}, nil, "config", "readable YAML"},
		{"config unknown key", map[string]string{"config": badFile}, nil, "config", `unknown key "platfroms"`},
		{"config not yaml", map[string]string{"config": notYAML}, nil, "config", "expected YAML"},
		{"severity", map[string]string{"severity": "HIGH,SEVERE"}, nil, "severity", "not a severity"},
		{"cache type", map[string]string{"cache-to": "type=floppy"}, nil, "cache-to", "unknown cache type"},
		{"provenance", map[string]string{"provenance": "mode=all"}, nil, "provenance", "mode=max"},
		{"builder", map[string]string{"builder": "ftp://x"}, nil, "builder", "unix://"},
		{"build-arg name", map[string]string{"build-args": "1X=2"}, nil, "build-args", "build argument name"},
		{"registry-auth", map[string]string{"registry-auth": "ghcr.io=token-only"}, nil, "registry-auth", "host=user:password"},
		{"sha length", nil, map[string]string{"DOCKER_METADATA_SHORT_SHA_LENGTH": "seven"}, "DOCKER_METADATA_SHORT_SHA_LENGTH", "number"},
		{"epoch", nil, map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, "SOURCE_DATE_EPOCH", "seconds"},
		{"context", map[string]string{"context": "/nonexistent"}, nil, "context", "directory"},
		{"file", map[string]string{"file": filepath.Join(ctxDir, "Nope")}, nil, "file", "Dockerfile"},
		{"fulcio", map[string]string{"fulcio-url": "fulcio"}, nil, "fulcio-url", "URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SLIPWAY_CONTEXT": ctxDir}
			for k, v := range tc.env {
				env[k] = v
			}
			l, err := Load(Options{Flags: tc.flags, Env: environ.Map(env)})
			if err == nil {
				err = l.Validate()
			}
			if err == nil {
				err = l.ValidateBuild()
			}
			var ie *errs.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *errs.InputError", err)
			}
			msg := err.Error()
			if ie.Input != tc.input || !strings.Contains(msg, tc.text) || strings.Contains(msg, "\n") {
				t.Errorf("got %q (input %q), want one line naming %q and saying %q", msg, ie.Input, tc.input, tc.text)
			}
			if errs.ExitCode(err) != errs.ExitBadInput {
				t.Errorf("exit code %d, want %d", errs.ExitCode(err), errs.ExitBadInput)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	l, err := Load(Options{Flags: map[string]string{"registry-auth": "ghcr.io=hunter2"}, Env: environ.Map(nil)})
	if err == nil {
		err = l.Validate()
	}
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v, want an error that does not show the secret", err)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want attrs.Secret
	}{
		{"id=npm,src=/run/npmrc", attrs.Secret{ID: "npm", Src: "/run/npmrc"}},
		{"id=tok,env=GH_TOKEN", attrs.Secret{ID: "tok", Env: "GH_TOKEN"}},
		{"type=env,id=TOKEN", attrs.Secret{ID: "TOKEN", Env: "TOKEN"}},
		{"GIT_AUTH_TOKEN=abc,def", attrs.Secret{ID: "GIT_AUTH_TOKEN", Value: "abc,def"}},
		{"MYSECRET=multi\nline", attrs.Secret{ID: "MYSECRET", Value: "multi\nline"}},
	} {
		got, err := attrs.ParseSecret(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("attrs.ParseSecret(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestInputsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, in := range Inputs() {
		if seen[in.Name] || in.Desc == "" {
			t.Errorf("input %q: duplicate or without a description", in.Name)
		}
		seen[in.Name] = true
	}
	in, _ := Lookup("build-args")
	if in.EnvName() != "SLIPWAY_BUILD_ARGS" || in.GitHubEnvName() != "INPUT_BUILD-ARGS" {
		t.Errorf("env names of build-args: %s, %s", in.EnvName(), in.GitHubEnvName())
	}
}

// A PEM given as cosign-key itself is refused without being echoed, and
// its lines are masked.
func TestCosignKeyPEMInline(t *testing.T) {
	pem := "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
	l, err := Load(Options{Env: environ.Map(map[string]string{"SLIPWAY_COSIGN_KEY": pem})})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Validate()
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "cosign-key" || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("err = %v, want an input error for cosign-key that does not show the key", err)
	}
	if !slices.Contains(l.SecretValues(), "c2VjcmV0LWtleS1tYXRlcmlhbA==") {
		t.Error("the key's line is not masked")
	}
}

// A type=gha cache entry outside GitHub Actions is dropped with a
// warning, not a failed build; on the runner it stays.
func TestGHACacheOutsideActionsIsAWarning(t *testing.T) {
	flags := map[string]string{"cache-from": "type=gha,scope=a\nregistry.example/app:cache", "cache-to": "type=gha,mode=max"}
	l, err := Load(Options{Flags: flags, Env: environ.Map(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	l.DropUnusableCache(func(s string) { warnings = append(warnings, s) })
	if !slices.Equal(l.CacheFrom, []string{"registry.example/app:cache"}) || len(l.CacheTo) != 0 || len(warnings) != 2 {
		t.Errorf("cache-from %q, cache-to %q, warnings %q", l.CacheFrom, l.CacheTo, warnings)
	}
	l, err = Load(Options{Flags: flags, Env: environ.Map(map[string]string{"ACTIONS_RUNTIME_TOKEN": "t", "ACTIONS_RESULTS_URL": "https://results/"})})
	if err != nil {
		t.Fatal(err)
	}
	l.DropUnusableCache(func(s string) { t.Errorf("warning on the runner: %s", s) })
	if len(l.CacheFrom) != 2 || len(l.CacheTo) != 1 {
		t.Errorf("entries dropped on the runner: %q %q", l.CacheFrom, l.CacheTo)
	}
}

// The builder's nodes in .slipway.yaml: a list, one node each, or a
// block of lines, the same; another single-value input takes no list.
func TestLoadBuilderNodesFromFile(t *testing.T) {
	const want = "tcp://amd64:1234 platforms=linux/amd64\ntcp://arm64:1234 platforms=linux/arm64"
	for _, doc := range []string{
		"builder:\n  - tcp://amd64:1234 platforms=linux/amd64\n  - tcp://arm64:1234 platforms=linux/arm64\n",
		"builder: |-\n  tcp://amd64:1234 platforms=linux/amd64\n  tcp://arm64:1234 platforms=linux/arm64\n",
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, DefaultFile), doc)
		l, err := Load(Options{Env: environ.Map(map[string]string{"SLIPWAY_CONTEXT": dir})})
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if l.Builder != want {
			t.Errorf("%s: builder = %q, want %q", doc, l.Builder, want)
		}
		if err := l.Validate(); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, DefaultFile), "target:\n  - a\n  - b\n")
	if _, err := Load(Options{Env: environ.Map(map[string]string{"SLIPWAY_CONTEXT": dir})}); err == nil || !strings.Contains(err.Error(), "target") {
		t.Errorf("a list for target: %v, want an input error naming it", err)
	}
}

// An INPUT_* or SLIPWAY_* variable no input has is named in a warning, as
// a build-push-action input slipway lacks would otherwise be dropped
// silently; the action's command input (its container's arguments) and
// the results of earlier runs are not inputs of the commands and draw none.
func TestUnknownInputsWarned(t *testing.T) {
	var warned []string
	_, err := Load(Options{Env: environ.Map(map[string]string{
		"INPUT_BAKE_TARGET":           "app",
		"INPUT_COMMAND":               "merge",
		"SLIPWAY_COMMAND":             "merge",
		"INPUT_PLATFORMS":             "linux/amd64",
		"SLIPWAY_RESULT_DIGEST":       "sha256:0",
		"SLIPWAY_CONFIG":              "",
		"INPUT_GITHUB_TOKEN_X":        "check",
		"SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
	}), Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ignoring INPUT_BAKE_TARGET: slipway has no input of that name",
		"ignoring INPUT_GITHUB_TOKEN_X: slipway has no input of that name",
		"ignoring SLIPWAY_COMMAND: slipway has no input of that name",
	}
	if !slices.Equal(warned, want) {
		t.Errorf("warnings:\n%q\nwant:\n%q", warned, want)
	}
}
