package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// A Debian-like package database the build copies into a busybox image:
// Trivy detects Debian 12 and an openssl package with a known (fixture)
// vulnerability (fixture.AppRootFS).
var debianFiles = func() map[string]string {
	files := fixture.AppRootFS()
	files["Dockerfile"] = "ARG BASE\nFROM ${BASE}\nCOPY root/ /\nRUN echo scanned > /scanned\n"
	return files
}()

// scanCache writes a fixture vulnerability DB (the real one cannot be
// downloaded here) with one HIGH advisory for the openssl above.
func scanCache(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.WriteDB(dir, []fixture.Advisory{fixture.AppAdvisory}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A multi-platform image is scanned from the local layout, for every
// platform, without a blob read from the registry; the failing gate stops
// the run before any tag moves; an ignore entry lets it through.
func TestScanGate(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, debianFiles)
	repo := e.UniqueRepo(t, "scanned")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
	})
	mark := e.Mark(t)
	r := slipway(t, dir, env, "run")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "gate") || !strings.Contains(r.stderr, "CVE-2099-0001") {
		t.Fatalf("exit %d, want 1 at the gate naming CVE-2099-0001\n%s", r.code, r.stderr)
	}
	if tags := testenv.RegistryTags(t, repo); len(tags) != 0 {
		t.Errorf("tags %q after a failed gate", tags)
	}
	path := strings.TrimPrefix(repo, e.Registry)
	for _, req := range e.RegistryRequests(t, mark) {
		if req.IsBlobGet() && strings.HasPrefix(req.Path, "/v2"+path+"/") {
			t.Errorf("the run read a blob of the image it built back from the registry: %s %s", req.Method, req.Path)
		}
	}
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		if !strings.Contains(r.stderr, platform) {
			t.Errorf("the scan output does not mention %s", platform)
		}
	}
	for _, f := range []string{"trivy-report.json", "trivy-results.sarif", "gl-container-scanning-report.json", "sbom-linux-amd64.cdx.json", "sbom-linux-arm64.cdx.json"} {
		if _, err := os.Stat(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}

	// The same run with the finding ignored passes the gate and tags.
	if err := os.WriteFile(filepath.Join(dir, ".trivyignore"), []byte("CVE-2099-0001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env["SLIPWAY_TRIVYIGNORES"] = filepath.Join(dir, ".trivyignore")
	runResult(t, dir, env)
	if tags := testenv.RegistryTags(t, repo); strings.Join(tags, ",") != "v1" {
		t.Errorf("tags %q after a passing gate, want v1", tags)
	}
}
