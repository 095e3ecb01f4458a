package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/sign"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// What slipway signs is read by today's verifiers on today's registries,
// whatever else is attached to the digest: built on the real buildkitd,
// pushed to docker-registry 2.8 (no Referrers API: the sha256-<hex>
// referrers tag), distribution v3 and go-containerregistry's registry
// (the Referrers API), scanned, signed and attested, in the default format
// (both, the log off) and as bundles logged in the test environment's
// Rekor v2. In every registry the verify commands slipway gives work as
// given with the cosign v3 CLI and with cosign v2.6.5, before and after a
// foreign cosign v3 signature by another key is attached to the digest;
// oras discover lists the bundles; a re-run adds no signature in any
// format.
func TestSignaturesReadByTodaysVerifiers(t *testing.T) {
	e := testenv.Get(t)
	rk := testenv.StartRekor(t)
	dir := testenv.GitProject(t, debianFiles)
	priv, _ := keyPair(t, t.TempDir(), "correct horse")
	regs := []struct{ name, host string }{
		{"docker-registry 2.8", e.Registry},
		{"distribution v3", testenv.StartDistributionV3(t)},
		{"referrers API", testenv.StartReferrersRegistry(t)},
	}
	for _, tc := range []struct {
		name    string
		repo    string // in the registries the test started
		inputs  map[string]string
		legacy  bool // the .sig/.att tags are written too
		rerun   bool
		logging bool
	}{
		{"default format, log off", "acme/both", map[string]string{"SLIPWAY_TLOG_UPLOAD": "false"}, true, true, false},
		{"bundle, Rekor v2", "acme/bundle", map[string]string{
			"SLIPWAY_SIGNATURE_FORMAT": "bundle", "SLIPWAY_TLOG_UPLOAD": "true", "SLIPWAY_REKOR_URL": rk.URL,
			"SLIPWAY_REKOR_VERSION": "2", "SLIPWAY_TRUSTED_ROOT": rk.TrustedRoot(t),
		}, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var repos []string
			for _, r := range regs {
				repos = append(repos, r.host+"/"+tc.repo)
			}
			repos[0] = e.UniqueRepo(t, "verifiers")
			inputs := map[string]string{
				"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": strings.Join(repos, "\n"), "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
				"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
				"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": "CRITICAL",
				"SLIPWAY_SIGN": "true", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "correct horse",
				// Reproducible, so that a re-run builds the same digest.
				"SOURCE_DATE_EPOCH": "1704164645", "SLIPWAY_PROVENANCE": "false",
			}
			for k, v := range tc.inputs {
				inputs[k] = v
			}
			env := buildEnv(t, e, inputs)
			res, r := runResult(t, dir, env)
			digest := res.Build.DigestStr()
			s := res.Sign
			if s == nil || !s.Verified || (s.TlogIndex >= 0) != tc.logging || (len(s.Signatures) > 0) != tc.legacy || len(s.Attestations) != 2 {
				t.Fatalf("sign result = %+v, want verified, legacy tags %v, logged %v, an SBOM and a vulnerability report attested\n%s", s, tc.legacy, tc.logging, r.stderr)
			}
			if got := doneStages(res); got != "build scan gate sign verify copy tag tag tag report" {
				t.Errorf("steps = %s", got)
			}
			if tc.rerun {
				// A re-run adds no signature, in either format, and says
				// so once. (Its new scan is attested: the report is new.)
				again, r := runResult(t, dir, env)
				if again.Build.DigestStr() != digest {
					t.Fatalf("the re-run built %s, want %s", again.Build.DigestStr(), digest)
				}
				if n := strings.Count(r.stderr, repos[0]+"@"+digest+" is already signed by this key\n"); n != 1 {
					t.Errorf("the re-run says %d times that the index is already signed:\n%s", n, r.stderr)
				}
			}
			for i, reg := range regs {
				repo := repos[i]
				t.Run(reg.name, func(t *testing.T) {
					if got := testenv.TagDigest(t, repo+":v1"); got != digest {
						t.Errorf("%s:v1 = %s, want %s", repo, got, digest)
					}
					want := 0
					if tc.legacy {
						want = 1
					}
					if n := signatureCount(t, repo, digest); n != want {
						t.Errorf("%s has %d legacy signatures of %s, want %d", repo, n, digest, want)
					}
					ref := repo + "@" + digest
					readByBothCLIs(t, s, repos[0], repo)
					found := orasBundles(t, ref)
					if found[sign.SignPredicateType] != 1 || found[cyclonedx] == 0 || found[vuln] == 0 {
						t.Errorf("oras discover lists on %s the bundles %v, want one signature, an SBOM and a vulnerability report", ref, found)
					}

					// Another key's cosign v3 signature on the digest: both
					// CLIs then read bundles only, and still find slipway's.
					otherPriv, _ := keyPair(t, t.TempDir(), "")
					if out, err := testenv.Cosign3(t, "sign", "--key", otherPriv, "--use-signing-config=false", "--tlog-upload=false", "--yes", ref); err != nil {
						t.Fatalf("a foreign cosign v3 signature: %v\n%s", err, out)
					}
					if after := orasBundles(t, ref); total(after) != total(found)+1 {
						t.Errorf("oras discover lists on %s the bundles %v after a foreign signature, want %v and it", ref, after, found)
					}
					readByBothCLIs(t, s, repos[0], repo)
				})
			}
		})
	}
}

// The predicate types of slipway's attestations.
const (
	cyclonedx = "https://cyclonedx.org/bom"
	vuln      = "https://cosign.sigstore.dev/attestation/vuln/v1"
)

// readByBothCLIs runs the verify commands slipway gave (naming first,
// its first repository) for repo, as given, with the cosign v3 CLI and
// with cosign v2.6.5, for the SBOM and the vulnerability report.
func readByBothCLIs(t *testing.T, s *pipeline.SignResult, first, repo string) {
	t.Helper()
	vuln := strings.Replace(s.VerifyAttestationCommand, "--type cyclonedx", "--type vuln", 1)
	for _, c := range []string{s.VerifyCommand, s.VerifyAttestationCommand, vuln} {
		args := strings.Fields(strings.Replace(c, first+"@", repo+"@", 1))[1:]
		for cli, run := range map[string]func(testing.TB, ...string) (string, error){"v3": testenv.Cosign3, "v2.6.5": testenv.Cosign} {
			if out, err := run(t, args...); err != nil {
				t.Errorf("cosign %s %s: %v\n%s", cli, strings.Join(args, " "), err, out)
			}
		}
	}
}

// total is the number of bundles in n.
func total(n map[string]int) int {
	sum := 0
	for _, c := range n {
		sum += c
	}
	return sum
}

// orasBundles counts the Sigstore bundles oras discover lists on ref, by
// predicate type (the annotation slipway writes; "" where there is none,
// as on cosign v3's own).
func orasBundles(t *testing.T, ref string) map[string]int {
	t.Helper()
	out, err := testenv.Oras(t, "discover", "--plain-http", "--format", "json", ref)
	if err != nil {
		t.Fatal(err)
	}
	var tree struct {
		Referrers []struct {
			ArtifactType string            `json:"artifactType"`
			Digest       string            `json:"digest"`
			Annotations  map[string]string `json:"annotations"`
		} `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		t.Fatalf("oras discover %s: %v\n%s", ref, err, out)
	}
	n := map[string]int{}
	for _, d := range tree.Referrers {
		if strings.HasPrefix(d.ArtifactType, artifact.BundleMediaTypePrefix) {
			n[d.Annotations["dev.sigstore.bundle.predicateType"]]++
		}
	}
	return n
}
