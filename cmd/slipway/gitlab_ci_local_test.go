package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// The GitLab template, run for real: gitlab-ci-local (pinned in
// hack/testdeps) reads a project's .gitlab-ci.yml that includes the
// template (include: local:, with inputs: the spec's interpolation is
// gitlab-ci-local's), and runs its job in shell-executor mode with the
// slipway under test on PATH, against the test environment's buildkitd and
// registry, scanning with a fixture DB. The job passes, the tags are in
// the registry, and the artifacts and reports GitLab would keep are there.
func TestGitLabTemplateWithGitLabCILocal(t *testing.T) {
	e := testenv.Get(t)
	repo := e.UniqueRepo(t, "gitlab")
	files := maps.Clone(debianFiles) // a Debian-like image with one HIGH fixture finding
	dir := testenv.GitLabProject(t, files, fmt.Sprintf(`      images: %s
      tags: |
        type=ref,event=branch
        type=raw,value=gitlab
      build-args: BASE=%s
      push: "true"
      sign: "false"
      scan: "true"
      severity: CRITICAL
      comment: never
      args: --progress plain
`, repo, e.BaseImage))
	log := testenv.GitLabCILocal(t, dir,
		// slipway under test on PATH.
		[]string{"PATH=" + filepath.Dir(slipwayBin) + string(os.PathListSeparator) + os.Getenv("PATH")},
		// The job names an image: run it in a shell here, with this slipway.
		"--force-shell-executor",
		"--variable", "BUILDKIT_HOST="+e.BuildkitHost,
		"--variable", "DOCKER_HOST=unix:///nonexistent/docker.sock",
		"--variable", "SLIPWAY_SCAN_CACHE_DIR="+scanCache(t),
		"--variable", "SLIPWAY_SCAN_SKIP_DB_UPDATE=true")
	// The job passes: severity CRITICAL lets the HIGH finding through the
	// gate (the default, CRITICAL,HIGH, would fail it).
	if !strings.Contains(log, "slipway plan (gitlab,") {
		t.Errorf("slipway did not read the GitLab context:\n%s", log)
	}

	// The OCI layout is in the job's output dir, not among the artifacts.
	if _, err := os.Stat(filepath.Join(dir, ".slipway", "oci", "index.json")); err != nil {
		t.Errorf("no OCI layout: %v", err)
	}
	art := testenv.GitLabArtifacts(dir)
	if _, err := os.Stat(filepath.Join(art, ".slipway", "oci", "index.json")); err == nil {
		t.Error("the OCI layout is among the artifacts")
	}
	for _, f := range []string{"build-metadata.json", "trivy-report.json", "trivy-results.sarif", "gl-container-scanning-report.json", "sbom.cdx.json"} {
		if _, err := os.Stat(filepath.Join(art, ".slipway", f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	var gl struct {
		Vulnerabilities []struct {
			ID          string `json:"id"`
			Identifiers []struct {
				Value string `json:"value"`
			} `json:"identifiers"`
			Location struct {
				DefaultBranchImage string `json:"default_branch_image"`
			} `json:"location"`
		} `json:"vulnerabilities"`
	}
	testenv.ReadJSON(t, filepath.Join(art, ".slipway", "gl-container-scanning-report.json"), &gl)
	if len(gl.Vulnerabilities) != 1 || !strings.Contains(fmt.Sprint(gl.Vulnerabilities[0].Identifiers), "CVE-2099-0001") {
		t.Errorf("container scanning report: %+v, want CVE-2099-0001", gl.Vulnerabilities)
	}
	// The default branch's image (its branch tag), which GitLab matches
	// findings across branches by.
	for _, v := range gl.Vulnerabilities {
		if v.Location.DefaultBranchImage != repo+":main" {
			t.Errorf("location.default_branch_image = %q, want %s:main", v.Location.DefaultBranchImage, repo)
		}
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
	}
	testenv.ReadJSON(t, filepath.Join(art, ".slipway", "sbom.cdx.json"), &bom)
	if bom.BOMFormat != "CycloneDX" {
		t.Errorf("sbom.cdx.json: bomFormat %q", bom.BOMFormat)
	}

	var md map[string]any
	testenv.ReadJSON(t, filepath.Join(art, ".slipway", "build-metadata.json"), &md)
	digest, _ := md["containerimage.digest"].(string)
	if !strings.HasPrefix(digest, "sha256:") {
		t.Errorf("build-metadata.json has no containerimage.digest: %v", md)
	}

	// The dotenv report, where artifacts:reports:dotenv points, as
	// gitlab-ci-local keeps it for later jobs; the summary and the report.
	dotenvReport := filepath.Join(art, ".gitlab-ci-reports", "dotenv", ".slipway", "slipway.env")
	env := testenv.ReadDotenv(t, dotenvReport)
	for k, want := range map[string]string{
		"SLIPWAY_RESULT_STATUS": "passed", "SLIPWAY_RESULT_DIGEST": digest, "SLIPWAY_RESULT_IMAGE": repo + "@" + digest,
		"SLIPWAY_RESULT_VULNERABILITIES_HIGH": "1", "SLIPWAY_RESULT_VULNERABILITIES_CRITICAL": "0",
		"SLIPWAY_RESULT_TAGS": repo + ":main," + repo + ":gitlab",
	} {
		if env[k] != want {
			t.Errorf("slipway.env %s = %q, want %q", k, env[k], want)
		}
	}
	summary, err := os.ReadFile(filepath.Join(art, ".slipway", "slipway-summary.md"))
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	for _, want := range []string{digest, "CVE-2099-0001", "gate passed"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
	var rep struct {
		Result struct {
			Build struct {
				Digest string `json:"digest"`
			} `json:"build"`
		} `json:"result"`
	}
	testenv.ReadJSON(t, filepath.Join(art, ".slipway", "slipway-report.json"), &rep)
	if rep.Result.Build.Digest != digest {
		t.Errorf("slipway-report.json digest %q, want %q", rep.Result.Build.Digest, digest)
	}

	// The branch and the raw tag, on the digest built.
	if tags := testenv.RegistryTags(t, repo); !slices.Equal(tags, []string{"gitlab", "main"}) {
		t.Errorf("tags %q, want gitlab and main", tags)
	}
	if got := testenv.TagDigest(t, repo+":gitlab"); got != digest {
		t.Errorf("%s:gitlab is %s, the run's digest %s", repo, got, digest)
	}
}
