package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// keyPair writes a cosign key pair, encrypted with pw, into dir.
func keyPair(t *testing.T, dir, pw string) (priv, pub string) {
	t.Helper()
	k, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte(pw), nil })
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(priv, k.PrivateBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, k.PublicBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// signatureCount is how many signatures cosign's manifest for digest in
// repo holds (0 when there is none).
func signatureCount(t *testing.T, repo, digest string) int {
	t.Helper()
	tag, err := name.NewTag(repo + ":" + strings.Replace(digest, ":", "-", 1) + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		return 0
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(layers)
}

var signedApp = map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo signed > /signed\n"}

// Built on the real buildkitd, pushed to registry A, scanned, signed and
// attested there, copied with its signatures to registry B, tagged in
// both; the real cosign CLI verifies the signature and the SBOM
// attestation in both registries, and rejects another key.
func TestSignCopyAndVerifyWithCosign(t *testing.T) {
	e := testenv.Get(t)
	regB := testenv.StartRegistry(t)
	dir := testenv.GitProject(t, debianFiles)
	keys := t.TempDir()
	priv, pub := keyPair(t, keys, "correct horse")
	repoA := e.UniqueRepo(t, "signed")
	repoB := regB + "/acme/signed"
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repoA + "\n" + repoB, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": "CRITICAL",
		"SLIPWAY_SIGN": "true", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "correct horse", "SLIPWAY_TLOG_UPLOAD": "false",
		// The legacy layout alone, which the cosign CLI reads while no
		// bundle is on the digest (the default, both, is checked in
		// TestSignaturesReadByTodaysVerifiers).
		"SLIPWAY_SIGNATURE_FORMAT": "legacy",
	})
	res, r := runResult(t, dir, env)
	if strings.Contains(r.stdout+r.stderr, "correct horse") {
		t.Error("the output shows the key's password")
	}
	digest := res.Build.DigestStr()
	if res.Sign == nil || !res.Sign.Verified || len(res.Sign.Signed) != 5 || len(res.Sign.Attestations) != 3 {
		t.Fatalf("sign result = %+v, want the index, two platforms and their two provenance manifests signed (cosign sign --recursive), 2 SBOMs and a vulnerability report attested, verified", res.Sign)
	}
	if got := doneStages(res); got != "build scan gate sign verify copy tag tag report" {
		t.Errorf("steps = %s", got)
	}
	for _, repo := range []string{repoA, repoB} {
		if got := testenv.TagDigest(t, repo+":v1"); got != digest {
			t.Errorf("%s:v1 = %s, want %s", repo, got, digest)
		}
		ref := repo + "@" + digest
		if out, err := testenv.Cosign(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", ref); err != nil {
			t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
		} else if !strings.Contains(out, `"docker-manifest-digest":"`+digest+`"`) {
			t.Errorf("cosign verify printed no claim for %s:\n%s", digest, out)
		}
		for _, p := range res.Build.Platforms {
			pref := repo + "@" + p.Digest.String()
			if out, err := testenv.Cosign(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", pref); err != nil {
				t.Errorf("cosign verify %s (%s): %v\n%s", pref, p.Platform, err, out)
			}
		}
		out, err := testenv.Cosign(t, "verify-attestation", "--key", pub, "--insecure-ignore-tlog=true", "--type", "cyclonedx", ref)
		if err != nil {
			t.Errorf("cosign verify-attestation --type cyclonedx %s: %v\n%s", ref, err, out)
		} else if n := strings.Count(out, `"payloadType":"application/vnd.in-toto+json"`); n != 2 {
			t.Errorf("cosign verify-attestation found %d CycloneDX attestations, want one per platform:\n%s", n, out)
		}
		if out, err := testenv.Cosign(t, "verify-attestation", "--key", pub, "--insecure-ignore-tlog=true", "--type", "vuln", ref); err != nil {
			t.Errorf("cosign verify-attestation --type vuln %s: %v\n%s", ref, err, out)
		}
	}
	_, wrongPub := keyPair(t, t.TempDir(), "other")
	if out, err := testenv.Cosign(t, "verify", "--key", wrongPub, "--insecure-ignore-tlog=true", repoB+"@"+digest); err == nil {
		t.Errorf("cosign verify with another key passed:\n%s", out)
	}
	wantCmd := "cosign verify --key " + filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "cosign.pub") + " --insecure-ignore-tlog=true " + repoA + "@" + digest
	if res.Sign.VerifyCommand != wantCmd {
		t.Errorf("verify command = %q, want %q", res.Sign.VerifyCommand, wantCmd)
	}
}

// tagBlocker is a proxy in front of the test registry that holds the
// first tag PUT (a manifest PUT whose reference is not a digest nor a
// cosign artifact) until the client goes away, and says so on tagging.
type tagBlocker struct {
	proxy   *httputil.ReverseProxy
	mu      sync.Mutex
	block   bool
	tagging chan struct{}
	release chan struct{} // closed when the test ends
}

var tagPut = regexp.MustCompile(`^/v2/.+/manifests/([^/]+)$`)

func (b *tagBlocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := tagPut.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPut &&
		!strings.HasPrefix(m[1], "sha256") {
		b.mu.Lock()
		block := b.block
		if block {
			b.block = false
			close(b.tagging)
		}
		b.mu.Unlock()
		if block {
			select {
			case <-r.Context().Done():
			case <-b.release:
			}
			http.Error(w, "held", http.StatusServiceUnavailable)
			return
		}
	}
	b.proxy.ServeHTTP(w, r)
}

// Killing slipway between sign and tag, then re-running it, ends with
// the same digest tagged and one signature on it, not two.
func TestKillBetweenSignAndTag(t *testing.T) {
	e := testenv.Get(t)
	target, _ := url.Parse("http://" + e.Registry)
	blocker := &tagBlocker{proxy: httputil.NewSingleHostReverseProxy(target), block: true, tagging: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(blocker)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(blocker.release) }) // runs first
	host := strings.TrimPrefix(srv.URL, "http://")
	repo := strings.Replace(e.UniqueRepo(t, "resumed"), e.Registry, host, 1)

	dir := testenv.GitProject(t, signedApp)
	priv, _ := keyPair(t, t.TempDir(), "pw")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SIGN": "true", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "pw", "SLIPWAY_TLOG_UPLOAD": "false",
		// A reproducible build: BuildKit stamps the image with the
		// commit's time, and its provenance (which records when the
		// build ran) is off, so an unchanged source is the same digest.
		"SOURCE_DATE_EPOCH": "1704164645", "SLIPWAY_PROVENANCE": "false",
	})
	cmd := slipwayCmd(t, dir, env, "run")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocker.tagging:
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("slipway never tagged:\n%s", stderr.String())
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	var meta map[string]any
	testenv.ReadJSON(t, filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "build-metadata.json"), &meta)
	first, _ := meta["containerimage.digest"].(string)
	if n := signatureCount(t, repo, first); n != 1 {
		t.Fatalf("after the kill %s has %d signatures, want 1\n%s", first, n, stderr.String())
	}
	for _, tag := range testenv.RegistryTags(t, repo) {
		if !strings.HasPrefix(tag, "sha256-") {
			t.Fatalf("the killed run left tag %q", tag)
		}
	}

	res, r := runResult(t, dir, env)
	if res.Build.DigestStr() != first {
		t.Errorf("the re-run built %s, the killed run %s", res.Build.DigestStr(), first)
	}
	if got := testenv.TagDigest(t, repo+":v1"); got != first {
		t.Errorf("v1 = %s, want %s", got, first)
	}
	if n := signatureCount(t, repo, first); n != 1 {
		t.Errorf("after the re-run %s has %d signatures, want 1\n%s", first, n, r.stderr)
	}
	if !strings.Contains(r.stderr, "already signed") {
		t.Errorf("the re-run did not say the digest was already signed:\n%s", r.stderr)
	}
}

// A failing sign leaves no tag anywhere: a wrong password is bad input
// found before the build; an unreachable KMS fails the sign step.
func TestFailedSignLeavesNoTag(t *testing.T) {
	e := testenv.Get(t)
	regB := testenv.StartRegistry(t)
	dir := testenv.GitProject(t, signedApp)
	priv, _ := keyPair(t, t.TempDir(), "right")
	repoA, repoB := e.UniqueRepo(t, "unsigned"), regB+"/acme/unsigned"
	base := map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repoA + "\n" + repoB, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SIGN": "true", "SLIPWAY_TLOG_UPLOAD": "false",
	}
	r := slipway(t, dir, buildEnv(t, e, with(base, map[string]string{"SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "wrong"})), "run")
	if r.code != 2 || !strings.Contains(lastLine(r.stderr), "cosign-key") {
		t.Errorf("wrong password: exit %d, want 2 naming cosign-key\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "wrong") || strings.Contains(r.stderr, "right") {
		t.Errorf("the error shows a password:\n%s", r.stderr)
	}

	r = slipway(t, dir, buildEnv(t, e, with(base, map[string]string{
		"SLIPWAY_COSIGN_KEY": "hashivault://slipway", "VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "test-token",
	})), "run")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "sign") {
		t.Errorf("unreachable KMS: exit %d, want 1 at the sign step\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "test-token") {
		t.Errorf("the error shows the Vault token:\n%s", r.stderr)
	}
	for _, repo := range []string{repoA, repoB} {
		if tags := testenv.RegistryTags(t, repo); len(tags) != 0 {
			t.Errorf("%s has tags %q after a failed sign", repo, tags)
		}
	}
}

// Copying to a second repository of the same registry mounts the blobs
// from the first (distribution's cross-repository mount) rather than
// uploading them again.
func TestCopyMountsWithinOneRegistry(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN head -c 65536 /dev/urandom > /noise\n"})
	repoA := e.UniqueRepo(t, "origin")
	repoB := repoA + "-mirror"
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repoA + "\n" + repoB, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false", "SLIPWAY_SIGN": "false",
	})
	mark := e.Mark(t)
	res, _ := runResult(t, dir, env)
	if got := testenv.TagDigest(t, repoB+":v1"); got != res.Build.DigestStr() {
		t.Errorf("%s:v1 = %s, want %s", repoB, got, res.Build.DigestStr())
	}
	mounts, uploads := mountsAndUploads(t, e, mark, repoA, repoB)
	if mounts == 0 || uploads != 0 {
		t.Errorf("the copy made %d cross-repository mounts and %d blob uploads to %s; want mounts only", mounts, uploads, repoB)
	}
}
