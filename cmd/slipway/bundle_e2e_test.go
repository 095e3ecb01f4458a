package main

import (
	"strings"
	"testing"

	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-ci/slipway/internal/sign"
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
	if got := doneStages(res); got != "build scan gate sign verify copy tag tag report" {
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

	// The commands slipway gives work as given with the current cosign
	// CLI (v3), also once a foreign v3 signature, by another key, is on
	// the same digest (v3 then reads bundles only).
	wantCmd := "cosign verify --key " + env["SLIPWAY_OUTPUT_DIR"] + "/cosign.pub --trusted-root " + trust + " " + repoA + "@" + digest
	if res.Sign.VerifyCommand != wantCmd {
		t.Errorf("verify command = %q, want %q", res.Sign.VerifyCommand, wantCmd)
	}
	given := func(t *testing.T) {
		t.Helper()
		for _, c := range []string{res.Sign.VerifyCommand, res.Sign.VerifyAttestationCommand} {
			if out, err := testenv.Cosign3(t, strings.Fields(c)[1:]...); err != nil {
				t.Errorf("%s (cosign v3): %v\n%s", c, err, out)
			}
		}
	}
	given(t)
	bundles := func() int {
		t.Helper()
		d, err := name.NewDigest(repoA + "@" + digest)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := ociremote.Referrers(d, sign.BundleMediaType)
		if err != nil {
			t.Fatal(err)
		}
		return len(idx.Manifests)
	}
	before := bundles()
	otherPriv, _ := keyPair(t, t.TempDir(), "")
	if out, err := testenv.Cosign3(t, "sign", "--key", otherPriv, "--new-bundle-format=true", "--use-signing-config=false", "--tlog-upload=false", "--yes", repoA+"@"+digest); err != nil {
		t.Fatalf("a foreign cosign v3 signature: %v\n%s", err, out)
	}
	if after := bundles(); after != before+1 {
		t.Fatalf("%d bundle referrers after a foreign cosign v3 signature, want %d", after, before+1)
	}
	given(t)
}
