package main

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// signature-format: bundle, end to end, with the log on: built on the
// real buildkitd, pushed to registry A, scanned, signed and attested as
// Sigstore bundle referrers logged in the test environment's Rekor v2,
// verified, copied with the bundles to registry B and verified there,
// tagged in both. The cosign CLI reads the bundles in both registries
// with the trust root naming the log; no legacy .sig or .att is written.
func TestSignBundlesWithTheLog(t *testing.T) {
	e := testenv.Get(t)
	rk := testenv.StartRekor(t)
	trust := rk.TrustedRoot(t)
	regB := testenv.StartRegistry(t)
	dir := testenv.GitProject(t, debianFiles)
	priv, pub := keyPair(t, t.TempDir(), "correct horse")
	repoA := e.UniqueRepo(t, "bundled")
	repoB := regB + "/acme/bundled"
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repoA + "\n" + repoB, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": "CRITICAL",
		"SLIPWAY_SIGN": "true", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "correct horse",
		"SLIPWAY_SIGNATURE_FORMAT": "bundle", "SLIPWAY_TLOG_UPLOAD": "true", "SLIPWAY_REKOR_URL": rk.URL,
		"SLIPWAY_REKOR_VERSION": "2", "SLIPWAY_TRUSTED_ROOT": trust,
	})
	res, r := runResult(t, dir, env)
	digest := res.Build.DigestStr()
	if res.Sign == nil || !res.Sign.Verified || res.Sign.TlogIndex < 0 || len(res.Sign.Signatures) != 0 || len(res.Sign.Attestations) != 2 {
		t.Fatalf("sign result = %+v, want verified, logged, no legacy tag, an SBOM and a vulnerability report attested\n%s", res.Sign, r.stderr)
	}
	var stages []string
	for _, s := range res.Done {
		stages = append(stages, string(s.Stage))
	}
	if got := strings.Join(stages, " "); got != "build scan gate sign verify copy tag tag report" {
		t.Errorf("steps = %s", got)
	}
	for _, repo := range []string{repoA, repoB} {
		if got := testenv.TagDigest(t, repo+":v1"); got != digest {
			t.Errorf("%s:v1 = %s, want %s", repo, got, digest)
		}
		for _, tag := range testenv.RegistryTags(t, repo) {
			if strings.HasSuffix(tag, ".sig") || strings.HasSuffix(tag, ".att") {
				t.Errorf("%s has the legacy tag %s", repo, tag)
			}
		}
		ref := repo + "@" + digest
		bundle := []string{"--key", pub, "--new-bundle-format", "--trusted-root", trust, "--allow-http-registry", "--allow-insecure-registry"}
		if out, err := testenv.Cosign(t, append(append([]string{"verify"}, bundle...), ref)...); err != nil {
			t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
		}
		for _, typ := range []string{"cyclonedx", "vuln"} {
			if out, err := testenv.Cosign(t, append(append([]string{"verify-attestation", "--type", typ}, bundle...), ref)...); err != nil {
				t.Errorf("cosign verify-attestation --type %s %s: %v\n%s", typ, ref, err, out)
			}
		}
	}
}
