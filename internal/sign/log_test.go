package sign

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/testenv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
)

// Keyless with the log on, as cosign v3 signs against Rekor v2: a real
// Fulcio certifies the key, the bundle is logged in a real Rekor v2 and
// timestamped by a real RFC 3161 timestamp authority (Rekor v2 entries
// carry no time, and the certificate is valid for minutes). The verify
// step and both cosign CLIs, given the trust root, verify it; a trust
// root without the timestamp authority does not; a re-run with a new
// certificate for the same identity adds nothing.
func TestKeylessBundleLoggedAndTimestamped(t *testing.T) {
	ctx := context.Background()
	fulcio := testenv.StartFulcio(t)
	rk := testenv.StartRekor(t)
	tsa := testenv.StartTimestampAuthority(t)
	trust := testenv.KeylessTrustedRoot(t, fulcio, rk, tsa)
	const email = "release-bot@example.com"
	keyless := func() Identity {
		tok := fulcio.Issuer.Token(t, map[string]any{"email": email, "email_verified": true})
		return Keyless{FulcioURL: fulcio.URL, Token: StaticToken(tok)}
	}
	plan := &pipeline.SignPlan{Enabled: true, Mode: mode.Keyless, TlogUpload: true, RekorURL: rk.URL, RekorVersion: 2,
		TimestampURL: tsa.URL, Format: mode.FormatBundle, Attest: true, TrustedRoot: trust}

	f := newFixture(t)
	st := &Stage{Keychain: authn.DefaultKeychain, Identity: keyless(), Trust: TrustedRootFile(trust), OutputDir: f.out}
	res, err := st.Sign(ctx, plan, f.repo, f.built, f.scanned)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Signed) != 3 || res.TlogIndex < 0 || res.CertificateIdentity != email || res.CertificateIssuer != fulcio.Issuer.URL {
		t.Fatalf("signed %d digests, log index %d, identity %q from %q; want 3, logged, %s from %s",
			len(res.Signed), res.TlogIndex, res.CertificateIdentity, res.CertificateIssuer, email, fulcio.Issuer.URL)
	}
	index := f.built.In(f.repo)
	b, err := ociremote.Bundle(firstBundle(t, index, SignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	vm := b.GetVerificationMaterial()
	if len(vm.GetTlogEntries()) != 1 || len(vm.GetTimestampVerificationData().GetRfc3161Timestamps()) != 1 || vm.GetCertificate() == nil {
		t.Fatalf("the bundle's verification material: %d log entries, %d RFC 3161 timestamps, certificate %v; want 1, 1, a certificate",
			len(vm.GetTlogEntries()), len(vm.GetTimestampVerificationData().GetRfc3161Timestamps()), vm.GetCertificate() != nil)
	}
	if err := st.Verify(ctx, plan, []name.Repository{f.repo}, f.built, res); err != nil {
		t.Fatalf("verify: %v", err)
	}
	wantCmd := "cosign verify --certificate-identity " + email + " --certificate-oidc-issuer " + fulcio.Issuer.URL + " --use-signed-timestamps --trusted-root " + trust + " " + index.String()
	if res.VerifyCommand != wantCmd {
		t.Errorf("verify command = %q, want %q", res.VerifyCommand, wantCmd)
	}

	// Both CLIs, with their defaults (the log checked), as the verify
	// command gives them; the test's Fulcio runs with no CT log, so no
	// certificate carries an SCT.
	cli := []string{"--certificate-identity", email, "--certificate-oidc-issuer", fulcio.Issuer.URL, "--use-signed-timestamps", "--trusted-root", trust,
		"--insecure-ignore-sct=true", "--allow-http-registry", "--allow-insecure-registry"}
	for _, c := range []struct {
		name string
		run  func(testing.TB, ...string) (string, error)
	}{{"cosign v3", testenv.Cosign3}, {"cosign v2", testenv.Cosign}} {
		if out, err := c.run(t, append(append([]string{"verify"}, cli...), index.String())...); err != nil {
			t.Errorf("%s verify: %v\n%s", c.name, err, out)
		}
		for _, typ := range []string{"cyclonedx", "vuln"} {
			if out, err := c.run(t, append(append([]string{"verify-attestation", "--type", typ}, cli...), index.String())...); err != nil {
				t.Errorf("%s verify-attestation --type %s: %v\n%s", c.name, typ, err, out)
			}
		}
	}

	// Without the timestamp authority in the trust root, nothing says
	// when the short-lived certificate signed.
	noTSA := &Stage{Keychain: authn.DefaultKeychain, Trust: TrustFunc(func(context.Context) (*Trust, error) {
		return &Trust{Material: rk.Root(t)}, nil
	})}
	if err := noTSA.Verify(ctx, plan, []name.Repository{f.repo}, f.built, res); err == nil {
		t.Error("the bundles verified with a trust root that has no timestamp authority")
	}

	// A re-run gets a new certificate for the same identity: it finds
	// its signatures and signs nothing again.
	var logged strings.Builder
	rerun := &Stage{Keychain: authn.DefaultKeychain, Identity: keyless(), Trust: TrustedRootFile(trust), OutputDir: f.out, Log: &logged}
	if _, err := rerun.Sign(ctx, plan, f.repo, f.built, f.scanned); err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Signed {
		ref := f.repo.Digest(d.String())
		if n := bundleReferrers(t, ref)[SignPredicateType]; n != 1 {
			t.Errorf("%s has %d signature bundles after a re-run, want 1", d, n)
		}
		if strings.Count(logged.String(), ref.String()+" is already signed by this identity\n") != 1 || strings.Contains(logged.String(), "signed "+ref.String()+"\n") {
			t.Errorf("the re-run's log for %s:\n%s", ref, logged.String())
		}
	}
}

// firstBundle is the first bundle referrer of ref with the predicate
// type.
func firstBundle(t *testing.T, ref name.Digest, predicateType string) name.Digest {
	t.Helper()
	idx, err := ociremote.Referrers(ref, BundleMediaType)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations[predicateAnnotation] == predicateType {
			return ref.Context().Digest(d.Digest.String())
		}
	}
	t.Fatalf("%s has no %s bundle", ref, predicateType)
	return name.Digest{}
}

// A logged signature whose log entry is missing, or not its own (moved
// to another index, another signature's, its checkpoint not the log's),
// does not verify: the same bundle, untouched, does.
func TestLogEntryMissingOrAlteredFailsVerify(t *testing.T) {
	ctx := context.Background()
	rk := testenv.StartRekor(t)
	k := cosignKey(t, "s3cret")
	trust := trustedRoot(t, rk, rk.PublicKey)
	plan := &pipeline.SignPlan{Enabled: true, Mode: mode.Key, TlogUpload: true, RekorURL: rk.URL, RekorVersion: 2, Format: mode.FormatBundle}
	f := newFixture(t)
	st := f.keyStage(k, "s3cret")
	st.Trust = TrustedRootFile(trust)
	res, err := st.Sign(ctx, plan, f.repo, f.built, f.scanned)
	if err != nil {
		t.Fatal(err)
	}
	index := f.built.In(f.repo)
	sgb, err := ociremote.Bundle(firstBundle(t, index, SignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ociremote.Bundle(firstBundle(t, f.repo.Digest(f.built.Platforms[0].Digest.String()), SignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	// Only the index: each case copies it alone to a repository of its own.
	only := *res
	only.Signed = []v1.Hash{f.built.Digest}
	idx, err := remote.Index(index)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		tamper func(b *protobundle.Bundle)
	}{
		{"untouched", nil},
		{"entry missing", func(b *protobundle.Bundle) { b.VerificationMaterial.TlogEntries = nil }},
		{"entry moved to another index", func(b *protobundle.Bundle) {
			e := b.VerificationMaterial.TlogEntries[0]
			e.LogIndex++
			e.InclusionProof.LogIndex++
		}},
		// Another signature's entry (of a platform manifest), whole. (A
		// Rekor v2 entry's body and root hash are not read: verifiers
		// rebuild the entry from the bundle's signature, key and payload,
		// and check its proof against the signed checkpoint.)
		{"another signature's entry", func(b *protobundle.Bundle) {
			b.VerificationMaterial.TlogEntries = other.GetVerificationMaterial().GetTlogEntries()
		}},
		{"checkpoint altered", func(b *protobundle.Bundle) {
			cp := b.VerificationMaterial.TlogEntries[0].InclusionProof.Checkpoint
			cp.Envelope = strings.Replace(cp.Envelope, "\n", "\nforged\n", 1)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pb := proto.Clone(sgb.Bundle).(*protobundle.Bundle)
			if c.tamper != nil {
				c.tamper(pb)
			}
			raw, err := protojson.Marshal(pb)
			if err != nil {
				t.Fatal(err)
			}
			repo, err := name.NewRepository(fmt.Sprintf("%s/tampered/%d-%s", f.repo.RegistryStr(), os.Getpid(), strings.NewReplacer(" ", "-", "'", "").Replace(c.name)), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			subject := repo.Digest(f.built.DigestStr())
			if err := remote.WriteIndex(subject, idx); err != nil {
				t.Fatal(err)
			}
			layer := static.NewLayer(raw, types.MediaType(BundleMediaType))
			if err := ociremote.WriteReferrer(subject, BundleMediaType, []v1.Layer{layer}, map[string]string{predicateAnnotation: SignPredicateType}); err != nil {
				t.Fatal(err)
			}
			err = st.Verify(ctx, plan, []name.Repository{repo}, f.built, &only)
			switch {
			case c.tamper == nil && err != nil:
				t.Fatalf("the untouched bundle did not verify: %v", err)
			case c.tamper != nil && err == nil:
				t.Fatal("verified")
			case c.tamper != nil:
				t.Logf("refused: %v", err)
			}
			// cosign v3's CLI, with the log checked, agrees.
			out, err := testenv.Cosign3(t, "verify", "--key", filepath.Join(f.out, PublicKeyFile), "--trusted-root", trust,
				"--allow-http-registry", "--allow-insecure-registry", subject.String())
			if (err == nil) != (c.tamper == nil) {
				t.Errorf("cosign v3 verify: %v\n%s", err, out)
			}
		})
	}
}
