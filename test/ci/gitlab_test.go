package ci

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// GitLab CI: gitlab-ci-local (pinned in hack/testdeps) runs the template's
// job with its Docker executor in the slipway image, pinned by digest as a
// project pins a release's image (the template's image input), entrypoint
// cleared by the template. The job reaches the Docker Engine through its
// socket, mounted as a runner's config mounts it, and slipway starts its
// BuildKit container there. The job container is on the host's network:
// the test dockerd has no bridge, and the registry listens on loopback.
// The artifacts and reports GitLab would keep come back out of the
// container.
func TestGitLabDockerExecutor(t *testing.T) {
	e := testenv.Get(t)
	host, runner := e.Docker(t)
	img := e.SlipwayImage(t)
	e.LockDockerBuilder(t)
	t.Cleanup(func() { removeBuilder(t, e) })
	repo := e.UniqueRepo(t, "gitlab-docker")
	dir := testenv.GitLabProject(t, appFiles, fmt.Sprintf(`      image: %s
      images: %s
      platforms: linux/amd64,linux/arm64
      tags: |
        type=ref,event=branch
        type=raw,value=gitlab
      build-args: BASE=%s
      push: "true"
      sign: "true"
      scan: "true"
      severity: CRITICAL
      comment: never
      args: --progress plain
`, img.Ref, repo, e.LocalhostRef(e.BaseImage)))

	db := t.TempDir()
	scanDB(t, db)
	keys := t.TempDir()
	const password = "gitlab-cosign-password-5e1f"
	_, pub := cosignKeyPair(t, keys, password)
	sock := strings.TrimPrefix(host, "unix://")
	log := testenv.GitLabCILocal(t, dir, []string{"DOCKER_HOST=" + host},
		"--pull-policy", "if-not-present",
		// Its default helper image is on Docker Hub: the runner image has
		// what it needs (bash, rsync, chown).
		"--helper-image", runner,
		"--network", "host",
		"--volume", sock+":/var/run/docker.sock",
		"--volume", db+":"+db,
		"--volume", keys+":/run/keys:ro",
		"--variable", "SLIPWAY_BUILDKIT_IMAGE="+e.BuildkitImage,
		"--variable", "SLIPWAY_SCAN_CACHE_DIR="+db,
		"--variable", "SLIPWAY_SCAN_SKIP_DB_UPDATE=true",
		"--variable", "SLIPWAY_COSIGN_KEY=/run/keys/cosign.key",
		"--variable", "COSIGN_PASSWORD="+password,
		"--variable", "SLIPWAY_TLOG_UPLOAD=false")
	for _, want := range []string{img.Ref, "slipway plan (gitlab,", "builder: a BuildKit container"} {
		if !strings.Contains(log, want) {
			t.Errorf("the job's log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, password) {
		t.Error("the job's log shows the key's password")
	}

	art := testenv.GitLabArtifacts(dir)
	if _, err := os.Stat(filepath.Join(art, ".slipway", "oci", "index.json")); err == nil {
		t.Error("the OCI layout is among the artifacts")
	}
	env := testenv.ReadDotenv(t, filepath.Join(art, ".gitlab-ci-reports", "dotenv", ".slipway", "slipway.env"))
	digest := env["SLIPWAY_RESULT_DIGEST"]
	for k, want := range map[string]string{
		"SLIPWAY_RESULT_STATUS": "passed", "SLIPWAY_RESULT_IMAGE": repo + "@" + digest,
		"SLIPWAY_RESULT_VULNERABILITIES_HIGH": "1", "SLIPWAY_RESULT_PLATFORMS": "linux/amd64,linux/arm64",
		"SLIPWAY_RESULT_TAGS": repo + ":main," + repo + ":gitlab",
	} {
		if env[k] != want {
			t.Errorf("slipway.env %s = %q, want %q", k, env[k], want)
		}
	}
	var gl struct {
		Vulnerabilities []struct {
			Identifiers []struct{ Value string } `json:"identifiers"`
		} `json:"vulnerabilities"`
	}
	testenv.ReadJSON(t, filepath.Join(art, ".slipway", "gl-container-scanning-report.json"), &gl)
	if len(gl.Vulnerabilities) == 0 || !strings.Contains(fmt.Sprint(gl.Vulnerabilities[0].Identifiers), fixtureCVE) {
		t.Errorf("container scanning report: %+v, want %s", gl.Vulnerabilities, fixtureCVE)
	}
	for _, p := range []string{"linux-amd64", "linux-arm64"} {
		var bom struct {
			BOMFormat string `json:"bomFormat"`
		}
		testenv.ReadJSON(t, filepath.Join(art, ".slipway", "sbom-"+p+".cdx.json"), &bom)
		if bom.BOMFormat != "CycloneDX" {
			t.Errorf("sbom-%s.cdx.json: bomFormat %q", p, bom.BOMFormat)
		}
	}

	if tags := imageTags(t, repo); !slices.Equal(tags, []string{"gitlab", "main"}) {
		t.Errorf("tags %q, want gitlab and main", tags)
	}
	if got := testenv.TagDigest(t, repo+":gitlab"); got != digest {
		t.Errorf("%s:gitlab is %s, the job's digest %s", repo, got, digest)
	}
	verifySigned(t, pub, repo+"@"+digest)
}
