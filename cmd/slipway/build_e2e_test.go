package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": multiStageDockerfile})
	repo := e.UniqueRepo(t, "multistage")
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
	images := layoutImages(t, b.LayoutDir, b.DigestStr())
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
	registryHas(t, repo, b.DigestStr())
	if _, err := os.Stat(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "build-metadata.json")); err != nil {
		t.Errorf("no build metadata file: %v", err)
	}
}

// The result is pushed by digest from the local OCI layout: the registry
// holds, byte for byte, the index in the layout (its provenance
// attestation included), and no tag.
func TestBuildPushByDigestOnly(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo ok > /ok\n"})
	repo := e.UniqueRepo(t, "bydigest")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		// No tag rule yields a tag: the push alone must leave none.
		"SLIPWAY_TAGS": "type=raw,value=v1,enable=false", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_PROVENANCE": "mode=min",
	})
	mark := e.Mark(t)
	res, _ := runResult(t, dir, env)
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
	if meta.Digest != res.Build.DigestStr() {
		t.Errorf("metadata digest %s, result digest %s", meta.Digest, res.Build.DigestStr())
	}
	registryHas(t, repo, meta.Digest)
	if tags := testenv.RegistryTags(t, repo); len(tags) != 0 {
		t.Errorf("tags %q in the registry; a build pushes by digest only and no stage after a failed one tags", tags)
	}
	local, err := os.ReadFile(filepath.Join(res.Build.LayoutDir, "blobs", "sha256", strings.TrimPrefix(meta.Digest, "sha256:")))
	if err != nil {
		t.Fatalf("the OCI layout lacks the built index: %v", err)
	}
	if !strings.Contains(string(local), "attestation-manifest") {
		t.Errorf("the index has no provenance attestation: %s", local)
	}
	if pushed := registryManifest(t, repo, meta.Digest); string(pushed) != string(local) {
		t.Errorf("the registry's index differs from the layout's:\n%s\n%s", pushed, local)
	}
	puts := 0
	for _, r := range e.RegistryRequests(t, mark) {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "/"+strings.TrimPrefix(repo, e.Registry+"/")+"/manifests/") {
			puts++
		}
	}
	if puts != 3 { // the image, the attestation, the index: no tag, no referrers tag
		t.Errorf("%d manifest PUTs, want 3", puts)
	}
}

func TestBuildTagsLast(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo tagged > /t\n"})
	repo := e.UniqueRepo(t, "tagged")
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_TAGS": "type=raw,value=v1\ntype=raw,value=stable", "SLIPWAY_FLAVOR": "latest=false",
	}))
	tags := testenv.RegistryTags(t, repo)
	if strings.Join(tags, ",") != "stable,v1" {
		t.Errorf("tags = %q, want stable and v1", tags)
	}
	if got := testenv.TagDigest(t, repo+":v1"); got != res.Build.DigestStr() {
		t.Errorf("v1 points at %s, want the built digest %s", got, res.Build.DigestStr())
	}
}

// One index with both platforms: a cross-compiling stage that runs on the
// build platform, and a RUN that runs emulated on arm64; provenance
// attached when asked for.
func TestBuildMultiPlatform(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": `ARG BASE
FROM --platform=$BUILDPLATFORM ${BASE} AS cross
ARG BUILDPLATFORM TARGETPLATFORM
RUN echo "on $BUILDPLATFORM for $TARGETPLATFORM" > /cross.txt

FROM ${BASE}
COPY --from=cross /cross.txt /cross.txt
RUN uname -m > /uname.txt
`})
	repo := e.UniqueRepo(t, "multiarch")
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64", "SLIPWAY_PROVENANCE": "mode=max",
	}))
	b := res.Build
	if len(b.Platforms) != 2 || b.Platforms[0].Platform != "linux/amd64" || b.Platforms[1].Platform != "linux/arm64" {
		t.Fatalf("platforms = %+v, want linux/amd64 and linux/arm64", b.Platforms)
	}
	images := layoutImages(t, b.LayoutDir, b.DigestStr())
	for platform, want := range map[string][2]string{
		"linux/amd64": {"x86_64\n", "on linux/amd64 for linux/amd64\n"},
		"linux/arm64": {"aarch64\n", "on linux/amd64 for linux/arm64\n"},
	} {
		img := images[platform]
		if img == nil {
			t.Fatalf("no %s image in the index: %v", platform, images)
		}
		if got := fileIn(t, img, "/uname.txt"); got != want[0] {
			t.Errorf("%s: uname -m = %q, want %q", platform, got, want[0])
		}
		if got := fileIn(t, img, "/cross.txt"); got != want[1] {
			t.Errorf("%s: cross stage wrote %q, want %q", platform, got, want[1])
		}
	}
	attestations := 0
	for k, img := range images {
		if !strings.HasPrefix(k, "attestation:") {
			continue
		}
		attestations++
		layers := layerContents(t, img)
		if len(layers) == 0 || !strings.Contains(string(layers[0]), `"https://in-toto.io/Statement`) || !strings.Contains(string(layers[0]), "https://slsa.dev/provenance") {
			t.Errorf("attestation %s is not an in-toto SLSA provenance", k)
		}
	}
	if attestations != 2 {
		t.Errorf("%d attestation manifests, want one provenance per platform", attestations)
	}
	registryHas(t, repo, b.DigestStr())
}

// A registry cache survives `buildctl prune --all`: the second build takes
// every step from it. The builder is a buildkitd of the test's own, so
// that the prune leaves the environment's cache (the slipway image's
// build, kept across runs) alone.
func TestBuildRegistryCache(t *testing.T) {
	e := testenv.Get(t)
	bk := e.StartBuildkitd(t, false)
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	// The nonce makes the steps new to this daemon, so the first build
	// runs them all and the second can only get them from the registry.
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": fmt.Sprintf(`ARG BASE
FROM ${BASE} AS build
RUN echo %x > /nonce
RUN cat /nonce /nonce > /twice

FROM ${BASE}
COPY --from=build /twice /twice
`, nonce)})
	cache := e.UniqueRepo(t, "cache") + ":buildcache"
	env := buildEnv(t, e, map[string]string{
		"BUILDKIT_HOST":   bk.Addr,
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage, "SLIPWAY_PUSH": "false",
		"SLIPWAY_CACHE_FROM": "type=registry,ref=" + cache,
		"SLIPWAY_CACHE_TO":   "type=registry,ref=" + cache + ",mode=max",
	})
	first, _ := runResult(t, dir, env)
	if first.Build.Steps == 0 || first.Build.CachedSteps == first.Build.Steps {
		t.Fatalf("first build: %d of %d steps cached, want fresh steps", first.Build.CachedSteps, first.Build.Steps)
	}
	if out, err := exec.Command(e.BuildctlPath, "--addr", bk.Addr, "prune", "--all").CombinedOutput(); err != nil {
		t.Fatalf("buildctl prune --all: %v\n%s", err, out)
	}
	second, r2 := runResult(t, dir, env)
	if second.Build.Steps != first.Build.Steps || second.Build.CachedSteps != second.Build.Steps {
		t.Errorf("after prune: %d of %d steps cached, want all %d\n%s", second.Build.CachedSteps, second.Build.Steps, first.Build.Steps, r2.stderr)
	}
	if second.Build.DigestStr() != first.Build.DigestStr() {
		t.Logf("digests differ (%s, %s): provenance carries build times", first.Build.DigestStr(), second.Build.DigestStr())
	}
}

// BuildKit's SBOM attestation with a generator image of our own (the
// default one cannot be pulled here): built by slipway itself, it follows
// BuildKit's SBOM generator protocol and lists /bin of the scanned rootfs.
func TestBuildSBOMAttestation(t *testing.T) {
	e := testenv.Get(t)
	gen := testenv.GitProject(t, map[string]string{
		"Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY gen.sh /gen.sh\nCMD [\"/bin/sh\", \"/gen.sh\"]\n",
		"gen.sh": `set -e
name=$(basename "$BUILDKIT_SCAN_SOURCE")
n=$(ls "$BUILDKIT_SCAN_SOURCE/bin" | wc -l)
cat > "$BUILDKIT_SCAN_DESTINATION/$name.spdx.json" <<JSON
{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],
 "predicate":{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"slipway-test-sbom","dataLicense":"CC0-1.0",
  "documentNamespace":"https://example.com/slipway-test","creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: slipway-test-generator"]},
  "packages":[{"name":"bin-entries-$n","SPDXID":"SPDXRef-bin","downloadLocation":"NOASSERTION"}]}}
JSON
`,
	})
	genRepo := e.UniqueRepo(t, "sbomgen")
	runResult(t, gen, buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": gen, "SLIPWAY_IMAGES": genRepo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
	}))

	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage, "SLIPWAY_PUSH": "false",
		"SLIPWAY_SBOM": "true", "SLIPWAY_SBOM_GENERATOR": genRepo + ":v1",
	}))
	found := false
	for k, img := range layoutImages(t, res.Build.LayoutDir, res.Build.DigestStr()) {
		if !strings.HasPrefix(k, "attestation:") {
			continue
		}
		for _, data := range layerContents(t, img) {
			if strings.Contains(string(data), `"https://spdx.dev/Document"`) && strings.Contains(string(data), "slipway-test-sbom") && strings.Contains(string(data), "bin-entries-") {
				found = true
			}
		}
	}
	if !found {
		t.Error("no SPDX attestation from the generator in the result")
	}
}

// Named build contexts (a second local directory) and SSH agent
// forwarding: the RUN step sees the agent and the key it holds, and the
// image keeps neither.
func TestBuildContextsAndSSH(t *testing.T) {
	e := testenv.Get(t)
	extra := t.TempDir()
	if err := os.WriteFile(filepath.Join(extra, "from-extra.txt"), []byte("named context\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	agentDir := t.TempDir()
	sock := filepath.Join(agentDir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("starting ssh-agent (openssh-client): %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	key := filepath.Join(agentDir, "id_ed25519")
	for _, args := range [][]string{
		{"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "slipway-e2e", "-f", key},
		{"ssh-add", key},
	} {
		var out []byte
		var err error
		for range 50 { // the agent's socket appears shortly after it starts
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
			if out, err = cmd.CombinedOutput(); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": `ARG BASE
FROM ${BASE}
COPY --from=extra from-extra.txt /from-extra.txt
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo agent-forwarded > /ssh.txt
`})
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage, "SLIPWAY_PUSH": "false",
		"SLIPWAY_BUILD_CONTEXTS": "extra=" + extra, "SLIPWAY_SSH": "default", "SSH_AUTH_SOCK": sock,
	}))
	var img v1.Image
	for k, i := range layoutImages(t, res.Build.LayoutDir, res.Build.DigestStr()) {
		if !strings.HasPrefix(k, "attestation:") {
			img = i
		}
	}
	if got := fileIn(t, img, "/from-extra.txt"); got != "named context\n" {
		t.Errorf("/from-extra.txt = %q", got)
	}
	if got := fileIn(t, img, "/ssh.txt"); got != "agent-forwarded\n" {
		t.Errorf("/ssh.txt = %q", got)
	}
}
