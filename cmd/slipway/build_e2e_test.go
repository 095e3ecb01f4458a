package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// These tests drive `slipway run` against the test environment's real
// buildkitd and registry (hack/testenv.sh up; make test starts it).

const multiStageDockerfile = `ARG BASE
FROM ${BASE} AS base
ARG GREETING=hello
RUN echo "$GREETING" > /greeting

FROM base AS withsecret
RUN --mount=type=secret,id=token test -s /run/secrets/token && sha256sum /run/secrets/token | cut -d' ' -f1 > /token.sha

FROM withsecret AS final
ARG VERSION
RUN echo "$VERSION" > /version

FROM base AS never
RUN echo "the target stage should have stopped the build before this" && exit 1
`

func TestBuildTargetArgsAndSecret(t *testing.T) {
	e := testenv.Get(t)
	const secret = "s3cr3t-token-7d1f0c"
	dir := project(t, map[string]string{"Dockerfile": multiStageDockerfile})
	repo := uniqueRepo(t, e, "multistage")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES":     repo,
		"SLIPWAY_CONTEXT":    dir,
		"SLIPWAY_TARGET":     "final",
		"SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage + "\nGREETING=hola\nVERSION=1.2.3",
		"SLIPWAY_SECRETS":    "id=token,env=E2E_TOKEN",
		"E2E_TOKEN":          secret,
	})
	res, r := runResult(t, dir, env)
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("the secret shows in slipway's output")
	}
	b := res.Build
	images := layoutImages(t, b.LayoutDir, b.Digest)
	var img = images["single"]
	for k, v := range images {
		if !strings.HasPrefix(k, "attestation:") && k != "unknown" {
			img = v
		}
	}
	if img == nil {
		t.Fatalf("no image in the layout: %v", images)
	}
	for path, want := range map[string]string{
		"/greeting":  "hola\n",
		"/version":   "1.2.3\n",
		"/token.sha": fmt.Sprintf("%x\n", sha256.Sum256([]byte(secret))),
	} {
		if got := fileIn(t, img, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if imageContains(t, img, secret) {
		t.Errorf("the secret is in a layer, the config, the history or the manifest")
	}
	registryHas(t, repo, b.Digest)
	if _, err := os.Stat(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "build-metadata.json")); err != nil {
		t.Errorf("no build metadata file: %v", err)
	}
}

func TestBuildPushByDigestOnly(t *testing.T) {
	e := testenv.Get(t)
	dir := project(t, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo ok > /ok\n"})
	repo := uniqueRepo(t, e, "bydigest")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		// The scan is on: this version stops there, before any tag moves.
		"SLIPWAY_SCAN": "true", "SLIPWAY_TAGS": "type=raw,value=v1",
	})
	r := slipway(t, dir, env, "run")
	if r.code != 1 || !strings.Contains(r.stderr, "scan:") {
		t.Fatalf("exit %d, want 1 at the scan stage\n%s", r.code, r.stderr)
	}
	md, err := os.ReadFile(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "build-metadata.json"))
	if err != nil {
		t.Fatalf("the build left no metadata: %v", err)
	}
	var meta struct {
		Digest string `json:"containerimage.digest"`
	}
	if err := json.Unmarshal(md, &meta); err != nil || meta.Digest == "" {
		t.Fatalf("build metadata %s: %v", md, err)
	}
	registryHas(t, repo, meta.Digest)
	if tags := registryTags(t, repo); len(tags) != 0 {
		t.Errorf("tags %q in the registry; a build pushes by digest only and no stage after a failed one tags", tags)
	}
	if _, err := os.Stat(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "oci", "index.json")); err != nil {
		t.Errorf("no OCI layout: %v", err)
	}
}

func TestBuildTagsLast(t *testing.T) {
	e := testenv.Get(t)
	dir := project(t, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo tagged > /t\n"})
	repo := uniqueRepo(t, e, "tagged")
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_TAGS": "type=raw,value=v1\ntype=raw,value=stable", "SLIPWAY_FLAVOR": "latest=false",
	}))
	tags := registryTags(t, repo)
	if strings.Join(tags, ",") != "stable,v1" {
		t.Errorf("tags = %q, want stable and v1", tags)
	}
	if got := tagDigest(t, repo+":v1"); got != res.Build.Digest {
		t.Errorf("v1 points at %s, want the built digest %s", got, res.Build.Digest)
	}
}
