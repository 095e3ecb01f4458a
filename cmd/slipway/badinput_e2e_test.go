package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// Bad input across every input family, each run for real (`slipway run`,
// not a dry run) against the test environment: exit 2, one stderr line
// naming the input, nothing on stdout, and no write in the registry's
// access log for the run's repository.
func TestBadInputTouchesNothing(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, signedApp)
	files := t.TempDir()
	aFile := filepath.Join(files, "a-file")
	writeTestFile(t, aFile, "not a directory\n")
	notAKey := filepath.Join(files, "not-a-key")
	writeTestFile(t, notAKey, "hello\n")
	priv, _ := keyPair(t, t.TempDir(), "right")
	badYAML := filepath.Join(files, "bad.yaml")
	writeTestFile(t, badYAML, "tags: [unclosed\n")
	unknownKey := filepath.Join(files, "unknown.yaml")
	writeTestFile(t, unknownKey, "imagez: x\n")
	missing := filepath.Join(files, "missing")
	repo := e.UniqueRepo(t, "badinput")
	mark := e.Mark(t)

	// An environment string is at most 128 KiB (MAX_ARG_STRLEN); the
	// config file carries a larger one.
	huge := strings.Repeat("a", 100_000)
	hugeConfig := filepath.Join(files, "huge.yaml")
	writeTestFile(t, hugeConfig, "platforms:\n"+strings.Repeat("  - linux/amd64\n", 1<<17)+"  - x\n")
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		input string // the input the one line must name
	}{
		// Paths
		{"secrets src missing", map[string]string{"SLIPWAY_SECRETS": "id=npm,src=" + missing}, nil, "secrets"},
		{"secrets src is a directory", map[string]string{"SLIPWAY_SECRETS": "id=npm,src=" + files}, nil, "secrets"},
		{"secret-files missing", map[string]string{"SLIPWAY_SECRET_FILES": "NPM=" + missing}, nil, "secret-files"},
		{"build-contexts dir missing", map[string]string{"SLIPWAY_BUILD_CONTEXTS": "extra=" + missing}, nil, "build-contexts"},
		{"build-contexts is a file", map[string]string{"SLIPWAY_BUILD_CONTEXTS": "extra=" + aFile}, nil, "build-contexts"},
		{"ssh key missing", map[string]string{"SLIPWAY_SSH": "github=" + missing}, nil, "ssh"},
		{"ssh agent without SSH_AUTH_SOCK", map[string]string{"SLIPWAY_SSH": "default"}, nil, "ssh"},
		{"builder-tls-ca missing", map[string]string{"SLIPWAY_BUILDER_TLS_CA": missing}, nil, "builder-tls-ca"},
		{"builder-tls-cert missing", map[string]string{"SLIPWAY_BUILDER_TLS_CERT": missing}, nil, "builder-tls-cert"},
		{"builder-tls-key missing", map[string]string{"SLIPWAY_BUILDER_TLS_KEY": missing}, nil, "builder-tls-key"},
		{"output-dir is a file", map[string]string{"SLIPWAY_OUTPUT_DIR": aFile}, nil, "output-dir"},
		{"output-dir under a file", map[string]string{"SLIPWAY_OUTPUT_DIR": filepath.Join(aFile, "out")}, nil, "output-dir"},
		{"scan-cache-dir is a file", map[string]string{"SLIPWAY_SCAN_CACHE_DIR": aFile}, nil, "scan-cache-dir"},
		{"trivyignores missing", map[string]string{"SLIPWAY_TRIVYIGNORES": missing}, nil, "trivyignores"},
		{"trusted-root missing", map[string]string{"SLIPWAY_TRUSTED_ROOT": missing}, nil, "trusted-root"},
		{"context is a file", map[string]string{"SLIPWAY_CONTEXT": aFile}, nil, "context"},
		{"context missing", map[string]string{"SLIPWAY_CONTEXT": missing}, nil, "context"},
		{"file missing", map[string]string{"SLIPWAY_FILE": missing}, nil, "file"},
		// Keys
		{"cosign-key missing", map[string]string{"SLIPWAY_COSIGN_KEY": missing}, nil, "cosign-key"},
		{"cosign-key unknown scheme", map[string]string{"SLIPWAY_COSIGN_KEY": "vault://x"}, nil, "cosign-key"},
		{"cosign-key unset env", map[string]string{"SLIPWAY_COSIGN_KEY": "env://NO_SUCH_KEY"}, nil, "cosign-key"},
		{"cosign-key wrong password", map[string]string{"SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "wrong"}, nil, "cosign-key"},
		{"cosign-key not a key", map[string]string{"SLIPWAY_COSIGN_KEY": notAKey}, nil, "cosign-key"},
		{"cosign-key inline PEM", map[string]string{"SLIPWAY_COSIGN_KEY": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"}, nil, "cosign-key"},
		{"registry-auth malformed", map[string]string{"SLIPWAY_REGISTRY_AUTH": "ghcr.io"}, nil, "registry-auth"},
		{"secret-envs unset variable", map[string]string{"SLIPWAY_SECRET_ENVS": "NPM=NO_SUCH_VAR"}, nil, "secrets"},
		// Enums
		{"push", map[string]string{"SLIPWAY_PUSH": "sometimes"}, nil, "push"},
		{"sign", map[string]string{"SLIPWAY_SIGN": "maybe"}, nil, "sign"},
		{"comment", map[string]string{"SLIPWAY_COMMENT": "loud"}, nil, "comment"},
		{"progress", map[string]string{"SLIPWAY_PROGRESS": "fancy"}, nil, "progress"},
		{"ci", map[string]string{"SLIPWAY_CI": "travis"}, nil, "ci"},
		{"output", nil, []string{"--output", "yaml"}, "output"},
		{"severity", map[string]string{"SLIPWAY_SEVERITY": "SEVERE"}, nil, "severity"},
		{"provenance", map[string]string{"SLIPWAY_PROVENANCE": "mode=maximal"}, nil, "provenance"},
		{"sbom", map[string]string{"SLIPWAY_SBOM": "yes"}, nil, "sbom"},
		{"platforms", map[string]string{"SLIPWAY_PLATFORMS": "linux/sparc"}, nil, "platforms"},
		{"registry-retry-time", map[string]string{"SLIPWAY_REGISTRY_RETRY_TIME": "forever"}, nil, "registry-retry-time"},
		// Booleans
		{"no-cache", map[string]string{"SLIPWAY_NO_CACHE": "yes"}, nil, "no-cache"},
		{"scan", map[string]string{"SLIPWAY_SCAN": "1"}, nil, "scan"},
		{"attest", map[string]string{"SLIPWAY_ATTEST": "on"}, nil, "attest"},
		{"tlog-upload", map[string]string{"SLIPWAY_TLOG_UPLOAD": "no"}, nil, "tlog-upload"},
		{"pull", map[string]string{"INPUT_PULL": "y"}, nil, "pull"},
		// Rules
		{"tags unknown type", map[string]string{"SLIPWAY_TAGS": "type=foo"}, nil, "tags"},
		{"tags enable", map[string]string{"SLIPWAY_TAGS": "type=sha,enable=maybe"}, nil, "tags"},
		{"flavor", map[string]string{"SLIPWAY_FLAVOR": "latest=sometimes"}, nil, "flavor"},
		{"images", map[string]string{"SLIPWAY_IMAGES": "127.0.0.1:1/Upper Case"}, nil, "images"},
		{"build-args name", map[string]string{"SLIPWAY_BUILD_ARGS": "1BAD=x"}, nil, "build-args"},
		{"cache-to type", map[string]string{"SLIPWAY_CACHE_TO": "type=floppy"}, nil, "cache-to"},
		{"cache-to registry without ref", map[string]string{"SLIPWAY_CACHE_TO": "type=registry,mode=max"}, nil, "cache-to"},
		{"cache-to local without dest", map[string]string{"SLIPWAY_CACHE_TO": "type=local,src=/tmp/x"}, nil, "cache-to"},
		{"cache-from malformed", map[string]string{"SLIPWAY_CACHE_FROM": `type=registry,"ref`}, nil, "cache-from"},
		{"labels", map[string]string{"SLIPWAY_LABELS": "=value"}, nil, "labels"},
		// URLs and addresses
		{"fulcio-url", map[string]string{"SLIPWAY_FULCIO_URL": "ftp://fulcio"}, nil, "fulcio-url"},
		{"rekor-url", map[string]string{"SLIPWAY_REKOR_URL": "not a url"}, nil, "rekor-url"},
		{"builder scheme", map[string]string{"BUILDKIT_HOST": "gopher://x"}, nil, "builder"},
		{"scan-db-repository", map[string]string{"SLIPWAY_SCAN_DB_REPOSITORY": "UPPER/CASE::"}, nil, "scan-db-repository"},
		// The config file
		{"config missing", nil, []string{"--config", missing}, "config"},
		{"config not YAML", nil, []string{"--config", badYAML}, "config"},
		{"config unknown key", nil, []string{"--config", unknownKey}, "config"},
		{"config is a directory", nil, []string{"--config", files}, "config"},
		// Huge and non-UTF-8 values
		{"huge tag", map[string]string{"SLIPWAY_TAGS": "type=raw,value=" + huge}, nil, "tags"},
		{"huge platform list", nil, []string{"--config", hugeConfig}, "platforms"},
		{"non-UTF-8 tag", map[string]string{"SLIPWAY_TAGS": "type=raw,value=v\xff\xfe"}, nil, "tags"},
		{"non-UTF-8 image", map[string]string{"SLIPWAY_IMAGES": "127.0.0.1:1/app\xff"}, nil, "images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := buildEnv(t, e, map[string]string{
				"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
				"SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_SIGN": "true", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "right",
				"SLIPWAY_TLOG_UPLOAD": "false", "SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
			})
			for k, v := range tc.env {
				env[k] = v
			}
			line := badInputLine(t, slipway(t, dir, env, append([]string{"run"}, tc.args...)...))
			if !strings.Contains(line, `"`+tc.input+`"`) {
				t.Errorf("stderr %.300q does not name the input %q", line, tc.input)
			}
			if len(line) > 1000 {
				t.Errorf("the line is %d bytes long", len(line))
			}
			if strings.Contains(line, "right") || strings.Contains(line, "wrong") {
				t.Errorf("the line shows a password: %q", line)
			}
		})
	}
	path := "/v2/" + strings.SplitN(repo, "/", 2)[1] + "/"
	for _, req := range e.RegistryRequests(t, mark) {
		if strings.HasPrefix(req.Path, path) && req.Method != http.MethodGet && req.Method != http.MethodHead {
			t.Errorf("the registry logged a write for bad input: %s", req.Line)
		}
		if strings.HasPrefix(req.Path, path) {
			t.Errorf("the registry was contacted for bad input: %s", req.Line)
		}
	}
	if _, err := os.Stat(filepath.Join(aFile, "out")); err == nil {
		t.Error("an output directory was created")
	}
}
