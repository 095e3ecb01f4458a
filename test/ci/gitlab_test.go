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
	e, host, runner, img := dockerJob(t)
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

	const password = "gitlab-cosign-password-5e1f"
	pub, opts := dockerExecutor(t, e, host, runner, password)
	log := testenv.GitLabCILocal(t, dir, []string{"DOCKER_HOST=" + host}, opts...)
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

	// The template's command: promote, in a later job: the published
	// digest verified with the same key (its public half), judged on its
	// signed report, copied and tagged v1 in another repository.
	prod := repo + "-prod"
	pdir := testenv.GitLabProject(t, appFiles, fmt.Sprintf(`      image: %s
      command: promote
      source: %s
      images: %s
      tags: type=raw,value=v1
      scan: "true"
      severity: CRITICAL
      comment: never
`, img.Ref, repo+"@"+digest, prod))
	log = testenv.GitLabCILocal(t, pdir, []string{"DOCKER_HOST=" + host}, opts...)
	penv := testenv.ReadDotenv(t, filepath.Join(testenv.GitLabArtifacts(pdir), ".gitlab-ci-reports", "dotenv", ".slipway", "slipway.env"))
	if penv["SLIPWAY_RESULT_STATUS"] != "passed" || penv["SLIPWAY_RESULT_DIGEST"] != digest {
		t.Errorf("the promote job's slipway.env: status %q, digest %q; want passed, %s\n%s", penv["SLIPWAY_RESULT_STATUS"], penv["SLIPWAY_RESULT_DIGEST"], digest, log)
	}
	if got := testenv.TagDigest(t, prod+":v1"); got != digest {
		t.Errorf("%s:v1 is %s, want the promoted %s", prod, got, digest)
	}
	verifySigned(t, pub, prod+"@"+digest)
}

// The matrix template under gitlab-ci-local: a parallel:matrix job per
// platform (slipway run, partial: true) in the slipway image, then the
// merge job (slipway merge), which takes their SLIPWAY_RESULT_PARTIAL_*
// dotenv through needs: one index of both platforms, gated, signed and
// tagged once, by the merge job.
func TestGitLabMatrixThenMerge(t *testing.T) {
	e, host, runner, img := dockerJob(t)
	repo := e.UniqueRepo(t, "gitlab-matrix")
	dir := testenv.GitLabProjectOf(t, "slipway-matrix.gitlab-ci.yml", appFiles, fmt.Sprintf(`      image: %s
      images: %s
      platforms: [linux/amd64, linux/arm64]
      tags: |
        type=raw,value=matrix
      build-args: BASE=%s
      sign: "true"
      scan: "true"
      severity: CRITICAL
      comment: never
      args: --progress plain
`, img.Ref, repo, e.LocalhostRef(e.BaseImage)))

	pub, opts := dockerExecutor(t, e, host, runner, "gitlab-matrix-password-77a0")
	// --needs: the platform jobs first, then the merge job.
	log := testenv.GitLabCILocal(t, dir, []string{"DOCKER_HOST=" + host}, append([]string{"--needs"}, opts...)...)
	for _, want := range []string{"slipway merge", "merged 2 platforms into " + repo + "@"} {
		if !strings.Contains(log, want) {
			t.Errorf("the pipeline's log lacks %q:\n%s", want, log)
		}
	}
	env := testenv.ReadDotenv(t, filepath.Join(testenv.GitLabArtifacts(dir), ".gitlab-ci-reports", "dotenv", ".slipway", "slipway.env"))
	digest := env["SLIPWAY_RESULT_DIGEST"]
	for k, want := range map[string]string{
		"SLIPWAY_RESULT_STATUS": "passed", "SLIPWAY_RESULT_IMAGE": repo + "@" + digest,
		"SLIPWAY_RESULT_PLATFORMS": "linux/amd64,linux/arm64", "SLIPWAY_RESULT_TAGS": repo + ":matrix",
	} {
		if env[k] != want {
			t.Errorf("the merge job's slipway.env %s = %q, want %q", k, env[k], want)
		}
	}
	if tags := imageTags(t, repo); !slices.Equal(tags, []string{"matrix"}) {
		t.Errorf("tags %q, want matrix", tags)
	}
	if got := testenv.TagDigest(t, repo+":matrix"); got != digest {
		t.Errorf("%s:matrix is %s, the merge's digest %s", repo, got, digest)
	}
	verifySigned(t, pub, repo+"@"+digest)
}

// dockerExecutor returns the gitlab-ci-local options of a job in the
// slipway image on the Docker executor of the Engine at host: its default
// helper image is on Docker Hub, so the runner image (bash, rsync, chown)
// is used; the host's network; the Engine's socket, a fixture scan DB
// and a cosign key encrypted with password mounted, as a runner's
// config mounts them. It returns the key's public half too.
func dockerExecutor(t *testing.T, e *testenv.Env, host, runner, password string) (pub string, opts []string) {
	t.Helper()
	db := t.TempDir()
	scanDB(t, db)
	keys := t.TempDir()
	_, pub = cosignKeyPair(t, keys, password)
	sock := strings.TrimPrefix(host, "unix://")
	return pub, []string{
		"--pull-policy", "if-not-present",
		"--helper-image", runner,
		"--network", "host",
		"--volume", sock + ":/var/run/docker.sock",
		"--volume", db + ":" + db,
		"--volume", keys + ":/run/keys:ro",
		"--variable", "SLIPWAY_BUILDKIT_IMAGE=" + e.BuildkitImage,
		"--variable", "SLIPWAY_SCAN_CACHE_DIR=" + db,
		"--variable", "SLIPWAY_SCAN_SKIP_DB_UPDATE=true",
		"--variable", "SLIPWAY_COSIGN_KEY=/run/keys/cosign.key",
		"--variable", "COSIGN_PASSWORD=" + password,
		"--variable", "SLIPWAY_TLOG_UPLOAD=false",
	}
}

// dockerJob is the setup of a job on the Docker executor: the test
// environment, its Engine's address and runner image, the slipway image;
// the Engine's BuildKit container is the test's until it ends, then
// removed.
func dockerJob(t *testing.T) (e *testenv.Env, host, runner string, img testenv.Image) {
	t.Helper()
	e = testenv.Get(t)
	host, runner = e.Docker(t)
	img = e.SlipwayImage(t)
	e.LockDockerBuilder(t)
	t.Cleanup(func() { removeBuilder(t, e) })
	return e, host, runner, img
}
