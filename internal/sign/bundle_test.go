package sign

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
	slregistry "github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// pushIndex pushes a random two-platform index to repo and returns what
// the build would have, and the scan's reports under out.
func pushIndex(t *testing.T, repo, out string) (name.Repository, *pipeline.BuildResult, *pipeline.ScanResult) {
	t.Helper()
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r.Digest(d.String()), idx); err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// The build's OCI layout, which the copy step reads the image from.
	built := &pipeline.BuildResult{Digest: d, LayoutDir: filepath.Join(out, "oci")}
	lp, err := layout.Write(built.LayoutDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	return r, built, scannedFor(t, out, built, m)
}

// trustedRoot writes a trusted_root.json naming the log whose checkpoint
// key is logKey.
func trustedRoot(t *testing.T, rk *testenv.Rekor, logKey ed25519.PublicKey) string {
	t.Helper()
	other := *rk
	other.PublicKey = logKey
	return other.TrustedRoot(t)
}

// bundleReferrers counts ref's bundles by predicate type.
func bundleReferrers(t *testing.T, ref name.Digest) map[string]int {
	t.Helper()
	idx, err := ociremote.Referrers(ref, BundleMediaType)
	if err != nil {
		t.Fatalf("referrers of %s: %v", ref, err)
	}
	n := map[string]int{}
	for _, d := range idx.Manifests {
		n[d.Annotations[predicateAnnotation]]++
	}
	return n
}

// With signature-format bundle and the log on (the test environment's
// Rekor v2), every digest gets one Sigstore bundle referrer, logged, on
// a registry with the Referrers API (go-containerregistry's) and on one
// without (docker-registry 2.8: the sha256-<hex> referrers tag); the
// verify step, cosign's CLI and a re-run agree: the re-run adds nothing
// and says so once per digest; another key, or a trust root naming
// another log, does not verify.
func TestSignBundleWithTheLog(t *testing.T) {
	ctx := context.Background()
	env := testenv.Get(t)
	rk := testenv.StartRekor(t)
	k := cosignKey(t, "s3cret")
	trust := trustedRoot(t, rk, rk.PublicKey)
	plan := &pipeline.SignPlan{Enabled: true, Mode: mode.Key, TlogUpload: true, RekorURL: rk.URL, RekorVersion: 2, Format: mode.FormatBundle, Attest: true}

	ggcr := testenv.StartReferrersRegistry(t)
	for _, reg := range []struct{ name, host, repo, copyTo string }{
		{"referrers API", ggcr, "bundle/api", env.Registry},
		{"referrers tag (docker-registry 2.8)", env.Registry, fmt.Sprintf("bundle/tag-%d", os.Getpid()), ggcr},
	} {
		t.Run(reg.name, func(t *testing.T) {
			f := &fixture{out: t.TempDir()}
			repo, built, scanned := pushIndex(t, reg.host+"/"+reg.repo, f.out)
			st := f.keyStage(k, "s3cret")
			st.Trust = TrustedRootFile(trust)
			res, err := st.Sign(ctx, plan, repo, built, scanned)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Signed) != 3 || res.TlogIndex < 0 || len(res.Signatures) != 0 {
				t.Fatalf("signed %d digests, log index %d, legacy tags %v; want the index and its 2 manifests, logged, no legacy tag", len(res.Signed), res.TlogIndex, res.Signatures)
			}
			for _, d := range res.Signed {
				if n := bundleReferrers(t, repo.Digest(d.String()))[SignPredicateType]; n != 1 {
					t.Errorf("%s has %d signature bundles, want 1", d, n)
				}
			}
			wantAtts := map[string]int{SignPredicateType: 1, "https://cyclonedx.org/bom": 2, "https://cosign.sigstore.dev/attestation/vuln/v1": 1}
			if got := bundleReferrers(t, built.In(repo)); !maps.Equal(got, wantAtts) || len(res.Attestations) != 3 {
				t.Errorf("the index's bundles by predicate: %v (%d attestations in the result), want %v", got, len(res.Attestations), wantAtts)
			}
			if err := st.Verify(ctx, plan, []name.Repository{repo}, built, res); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if reg.host == env.Registry {
				if tags := testenv.RegistryTags(t, repo.String()); !slices.Contains(tags, strings.Replace(built.Digest.String(), ":", "-", 1)) {
					t.Errorf("no referrers tag on a registry without the Referrers API: tags %q", tags)
				}
			}

			// cosign's CLI (the version slipway links) reads the bundle with
			// the same trust root.
			bundle := []string{"--key", filepath.Join(f.out, PublicKeyFile), "--new-bundle-format", "--trusted-root", trust,
				"--allow-http-registry", "--allow-insecure-registry", built.In(repo).String()}
			if out, err := testenv.Cosign(t, append([]string{"verify"}, bundle...)...); err != nil {
				t.Errorf("cosign verify: %v\n%s", err, out)
			}
			for _, typ := range []string{"cyclonedx", "vuln"} {
				if out, err := testenv.Cosign(t, append([]string{"verify-attestation", "--type", typ}, bundle...)...); err != nil {
					t.Errorf("cosign verify-attestation --type %s: %v\n%s", typ, err, out)
				}
			}

			// A re-run adds no bundle and no log entry.
			rerun := f.keyStage(k, "s3cret")
			rerun.Trust = st.Trust
			var logged strings.Builder
			rerun.Log = &logged
			again, err := rerun.Sign(ctx, plan, repo, built, scanned)
			if err != nil {
				t.Fatal(err)
			}
			if again.TlogIndex != res.TlogIndex {
				t.Errorf("the re-run's log index is %d, want the first run's %d", again.TlogIndex, res.TlogIndex)
			}
			for _, d := range again.Signed {
				ref := repo.Digest(d.String())
				if n := bundleReferrers(t, ref)[SignPredicateType]; n != 1 {
					t.Errorf("%s has %d signature bundles after a re-run, want 1", d, n)
				}
				if strings.Count(logged.String(), ref.String()+" is already signed by this key\n") != 1 || strings.Contains(logged.String(), "signed "+ref.String()+"\n") {
					t.Errorf("the re-run's log for %s:\n%s", ref, logged.String())
				}
			}

			if got := bundleReferrers(t, built.In(repo)); !maps.Equal(got, wantAtts) || !strings.Contains(logged.String(), "(3 already there)") {
				t.Errorf("after a re-run the index's bundles are %v, want %v; log:\n%s", got, wantAtts, logged.String())
			}

			// The copy step carries the bundles to another registry (with
			// the other kind of referrers), where they verify too.
			dst, err := name.NewRepository(fmt.Sprintf("%s/bundle/copy-%d", reg.copyTo, os.Getpid()), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			cp := &slregistry.Copier{Keychain: slregistry.NewKeychain(nil, authn.DefaultKeychain)}
			if err := cp.Copy(ctx, pipeline.CopySource{Ref: built.In(repo), LayoutDir: built.LayoutDir, Attached: res.Artifacts, ReferrersOf: res.Signed}, []name.Repository{dst}); err != nil {
				t.Fatalf("copying to %s: %v", dst, err)
			}
			if got := bundleReferrers(t, built.In(dst)); !maps.Equal(got, wantAtts) {
				t.Errorf("the copy's bundles by predicate: %v, want %v", got, wantAtts)
			}
			if err := st.Verify(ctx, plan, []name.Repository{dst}, built, res); err != nil {
				t.Errorf("verifying the copy: %v", err)
			}

			// Another key does not verify; nor does a trust root naming
			// another log.
			other := cosignKey(t, "x")
			forged := *res
			forged.PublicKey = string(other.PublicBytes)
			if err := st.Verify(ctx, plan, []name.Repository{repo}, built, &forged); err == nil {
				t.Error("the bundles verified with another key")
			}
			otherLog, _, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			elsewhere := f.keyStage(k, "s3cret")
			elsewhere.Trust = TrustedRootFile(trustedRoot(t, rk, otherLog))
			if err := elsewhere.Verify(ctx, plan, []name.Repository{repo}, built, res); err == nil {
				t.Error("the bundles verified against a trust root naming another log")
			}
		})
	}
}

// signature-format both writes the legacy signatures and attestations
// and their bundles, and the verify step checks both.
func TestSignBothFormats(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k := cosignKey(t, "s3cret")
	st := f.keyStage(k, "s3cret")
	both := &pipeline.SignPlan{Enabled: true, Mode: mode.Key, Format: mode.FormatBoth, Attest: true}
	res, err := st.Sign(ctx, both, f.repo, f.built, f.scanned)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Signed) != 3 || len(res.Signatures) != 3 {
		t.Fatalf("signed %d digests with %d legacy tags, want 3 and 3", len(res.Signed), len(res.Signatures))
	}
	for _, d := range res.Signed {
		ref := f.repo.Digest(d.String())
		if n := bundleReferrers(t, ref)[SignPredicateType]; n != 1 {
			t.Errorf("%s has %d signature bundles, want 1", d, n)
		}
		if sigs, _ := count(t, ref.String()); sigs != 1 {
			t.Errorf("%s has %d legacy signatures, want 1", d, sigs)
		}
	}
	if _, atts := count(t, f.built.In(f.repo).String()); atts != 3 {
		t.Errorf("the index has %d legacy attestations, want 3", atts)
	}
	want := map[string]int{SignPredicateType: 1, "https://cyclonedx.org/bom": 2, "https://cosign.sigstore.dev/attestation/vuln/v1": 1}
	if got := bundleReferrers(t, f.built.In(f.repo)); !maps.Equal(got, want) {
		t.Errorf("the index's bundles by predicate: %v, want %v", got, want)
	}
	if err := st.Verify(ctx, both, []name.Repository{f.repo}, f.built, res); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// A bundle cosign v3's CLI made with the same key (its referrers carry
// no annotations where the registry lacks the Referrers API; here they
// are read from the statement) counts as already signed: a run adds no
// second signature of that digest.
func TestSignFindsCosignV3Signature(t *testing.T) {
	ctx := context.Background()
	env := testenv.Get(t)
	k := cosignKey(t, "")
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	writeFile(t, keyFile, string(k.PrivateBytes))
	out := t.TempDir()
	repo, built, _ := pushIndex(t, fmt.Sprintf("%s/bundle/v3-%d", env.Registry, os.Getpid()), out)
	ref := built.In(repo)
	if o, err := testenv.Cosign3(t, "sign", "--key", keyFile, "--use-signing-config=false", "--tlog-upload=false", "--yes", ref.String()); err != nil {
		t.Fatalf("cosign v3 sign: %v\n%s", err, o)
	}
	st := (&fixture{out: out}).keyStage(k, "")
	var logged strings.Builder
	st.Log = &logged
	plan := &pipeline.SignPlan{Enabled: true, Mode: mode.Key, Format: mode.FormatBundle}
	if _, err := st.Sign(ctx, plan, repo, built, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), ref.String()+" is already signed by this key\n") {
		t.Errorf("the index cosign v3 signed was signed again:\n%s", logged.String())
	}
	idx, err := ociremote.Referrers(ref, BundleMediaType)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(idx.Manifests); n != 1 {
		t.Errorf("the index has %d bundle referrers, want cosign v3's alone", n)
	}
}
