package sign

import (
	"context"
	"crypto"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// fixture is an in-process registry (go-containerregistry's, as crane's
// tests use) holding a two-platform index, with the scan's reports.
type fixture struct {
	repo    name.Repository
	built   *pipeline.BuildResult
	scanned *pipeline.ScanResult
	out     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{out: t.TempDir()}
	f.repo, f.built, f.scanned = pushIndex(t, testenv.StartReferrersRegistry(t)+"/acme/app", f.out)
	return f
}

// scannedFor records the index m's platforms on built and writes the
// scan's reports under out: a CycloneDX SBOM per platform and Trivy's
// JSON report.
func scannedFor(t *testing.T, out string, built *pipeline.BuildResult, m *v1.IndexManifest) *pipeline.ScanResult {
	t.Helper()
	scanned := &pipeline.ScanResult{Scanner: "trivy 0.70.0"}
	for i, desc := range m.Manifests {
		platform := []string{"linux/amd64", "linux/arm64"}[i]
		built.Platforms = append(built.Platforms, pipeline.PlatformImage{Platform: platform, Digest: desc.Digest})
		p := filepath.Join(out, "sbom-"+strings.ReplaceAll(platform, "/", "-")+".cdx.json")
		writeFile(t, p, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[]}`)
		scanned.Reports = append(scanned.Reports, pipeline.ReportFile{Format: "cyclonedx", Platform: platform, Path: p})
	}
	p := filepath.Join(out, "trivy-report.json")
	writeFile(t, p, `{"SchemaVersion":2,"ArtifactName":"app","Results":[]}`)
	scanned.Reports = append(scanned.Reports, pipeline.ReportFile{Format: "json", Path: p})
	return scanned
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cosignKey is a cosign key pair, the private key encrypted with pw.
func cosignKey(t *testing.T, pw string) *cosign.KeysBytes {
	t.Helper()
	k, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte(pw), nil })
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fixture) keyStage(k *cosign.KeysBytes, pw string) *Stage {
	return &Stage{
		Keychain:  authn.DefaultKeychain,
		Identity:  Key{Ref: "cosign.key", PEM: k.PrivateBytes, Password: []byte(pw)},
		OutputDir: f.out,
	}
}

var plan = &pipeline.SignPlan{Enabled: true, Mode: "key", Attest: true}

// count returns how many signatures and attestations ref carries.
func count(t *testing.T, ref string) (sigs, atts int) {
	t.Helper()
	r, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	se, err := ociremote.SignedEntity(r)
	if err != nil {
		t.Fatal(err)
	}
	s, err := se.Signatures()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := s.Get()
	if err != nil {
		t.Fatal(err)
	}
	a, err := se.Attestations()
	if err != nil {
		t.Fatal(err)
	}
	as, err := a.Get()
	if err != nil {
		t.Fatal(err)
	}
	return len(ss), len(as)
}

func TestSignAttestVerifyWithKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k := cosignKey(t, "s3cret")
	st := f.keyStage(k, "s3cret")
	res, err := st.Sign(ctx, plan, f.repo, f.built, f.scanned)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Signed) != 3 || res.Signed[0] != f.built.Digest {
		t.Errorf("signed %q, want the index then both platform images", res.Signed)
	}
	if len(res.Attestations) != 3 {
		t.Errorf("attestations = %+v, want two SBOMs and the vulnerability report", res.Attestations)
	}
	if len(res.Artifacts) != 4 || res.Artifacts[3].Kind != artifact.Attestation {
		t.Errorf("artifacts = %q, want three .sig tags and one .att", res.Artifacts)
	}
	if err := st.Verify(ctx, plan, []name.Repository{f.repo}, f.built, res); err != nil {
		t.Fatalf("verify: %v", err)
	}
	pub, err := os.ReadFile(filepath.Join(f.out, PublicKeyFile))
	if err != nil || string(pub) != string(k.PublicBytes) {
		t.Errorf("cosign.pub = %q (%v), want the key's public key", pub, err)
	}
	wantCmd := "cosign verify --key " + filepath.Join(f.out, PublicKeyFile) + " --insecure-ignore-tlog=true " + f.built.In(f.repo).String()
	if res.VerifyCommand != wantCmd {
		t.Errorf("verify command = %q, want %q", res.VerifyCommand, wantCmd)
	}

	// A re-run (after an interrupted one) adds no second signature and
	// replaces the attestations rather than piling them up.
	rerun := f.keyStage(k, "s3cret")
	var log strings.Builder
	rerun.Log = &log
	again, err := rerun.Sign(ctx, plan, f.repo, f.built, f.scanned)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range again.Signed {
		ref := f.repo.Digest(d.String()).String()
		sigs, _ := count(t, ref)
		if sigs != 1 {
			t.Errorf("%s has %d signatures after a re-run, want 1", d, sigs)
		}
		// One line per digest, and it says what happened.
		if strings.Count(log.String(), ref+" is already signed by this key\n") != 1 || strings.Contains(log.String(), "signed "+ref+"\n") {
			t.Errorf("the re-run's log for %s:\n%s", ref, log.String())
		}
	}
	if _, atts := count(t, f.built.In(f.repo).String()); atts != 3 {
		t.Errorf("the index has %d attestations after a re-run, want 3", atts)
	}

	// Another key does not verify it: Verify checks against the key the
	// result names.
	other := f.keyStage(cosignKey(t, "x"), "x")
	osv, err := other.Identity.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opem, err := publicPEM(osv)
	if err != nil {
		t.Fatal(err)
	}
	forged := *res
	forged.PublicKey = string(opem)
	if err := other.Verify(ctx, plan, []name.Repository{f.repo}, f.built, &forged); err == nil {
		t.Error("a signature verified with the wrong key")
	}
}

func TestSignFailuresWriteNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k := cosignKey(t, "right")
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "test")
	for name, st := range map[string]*Stage{
		"wrong password":  f.keyStage(k, "wrong"),
		"unreachable KMS": {Keychain: authn.DefaultKeychain, Identity: Key{Ref: "hashivault://slipway", KMS: "hashivault://slipway"}},
	} {
		_, err := st.Sign(ctx, plan, f.repo, f.built, f.scanned)
		if err == nil || !strings.Contains(err.Error(), "loading the signer") {
			t.Errorf("%s: err = %v, want the signer to fail to load", name, err)
		}
		if strings.Contains(err.Error(), "right") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
	ref, _ := name.NewDigest(f.built.In(f.repo).String())
	tag, _ := ociremote.SignatureTag(ref)
	if _, err := remote.Head(tag); err == nil {
		t.Errorf("a failed sign wrote %s", tag)
	}
}

// leafSigner is a signer holding a new leaf certificate of vs for the
// identity subject from issuer.
func leafSigner(t *testing.T, vs *ca.VirtualSigstore, subject, issuer string) *Signer {
	t.Helper()
	leaf, priv, err := vs.GenerateLeafCert(subject, issuer)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := CertSigner(sv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// Keyless verification, offline: a Fulcio-style certificate from
// sigstore-go's VirtualSigstore (a CA, CT log and Rekor in memory).
func TestKeylessVerifyOffline(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const subject, issuer = "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	signer := leafSigner(t, vs, subject, issuer)
	if signer.Subject != subject || signer.Issuer != issuer {
		t.Errorf("identity = %q from %q", signer.Subject, signer.Issuer)
	}
	// VirtualSigstore's leaf certificates carry no embedded SCT.
	trust := func(m *ca.VirtualSigstore) TrustSource {
		return TrustFunc(func(context.Context) (*Trust, error) { return &Trust{Material: m}, nil })
	}
	st := &Stage{Keychain: authn.DefaultKeychain, Identity: Resolved(signer, "test certificate"), Trust: trust(vs)}
	keyless := &pipeline.SignPlan{Enabled: true, Mode: "keyless", Attest: true}
	res, err := st.Sign(ctx, keyless, f.repo, f.built, f.scanned)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Verify(ctx, keyless, []name.Repository{f.repo}, f.built, res); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !strings.Contains(res.VerifyCommand, "--certificate-identity "+subject) || !strings.Contains(res.VerifyCommand, "--certificate-oidc-issuer "+issuer) {
		t.Errorf("verify command = %q", res.VerifyCommand)
	}

	// A re-run with a new certificate for the same identity finds its
	// legacy signatures by that identity and adds none.
	signer2 := leafSigner(t, vs, subject, issuer)
	var logged strings.Builder
	rerun := &Stage{Keychain: authn.DefaultKeychain, Identity: Resolved(signer2, "test certificate"), Trust: trust(vs), Log: &logged}
	if _, err := rerun.Sign(ctx, keyless, f.repo, f.built, f.scanned); err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Signed {
		ref := f.repo.Digest(d.String()).String()
		if sigs, _ := count(t, ref); sigs != 1 || !strings.Contains(logged.String(), ref+" is already signed by this identity\n") {
			t.Errorf("%s after a re-run: %d signatures; log:\n%s", ref, sigs, logged.String())
		}
	}

	// A certificate from another CA is not trusted.
	stranger, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	st.Trust, st.trusted = trust(stranger), nil
	if err := st.Verify(ctx, keyless, []name.Repository{f.repo}, f.built, res); err == nil {
		t.Error("a certificate from an untrusted CA verified")
	}
	// Nor is another identity from the trusted CA.
	st.Trust, st.trusted = trust(vs), nil
	forged := *res
	forged.CertificateIdentity = "https://github.com/evil/app/.github/workflows/ci.yml@refs/heads/main"
	if err := st.Verify(ctx, keyless, []name.Repository{f.repo}, f.built, &forged); err == nil {
		t.Error("a signature verified for another identity")
	}
}

// GitHub's token endpoint is asked for a token with audience sigstore,
// with the request token as bearer; a refusal says what to check.
func TestGitHubToken(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		if r.Header.Get("Authorization") != "Bearer request-token" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, `{"count":1,"value":"the.jwt.token"}`)
	}))
	defer srv.Close()
	tok, err := GitHubToken(srv.URL+"/token?api-version=2.0", "request-token", nil)(context.Background())
	if err != nil || tok != "the.jwt.token" {
		t.Fatalf("token %q, %v", tok, err)
	}
	if q := got.URL.Query(); q.Get("audience") != "sigstore" || q.Get("api-version") != "2.0" {
		t.Errorf("query = %v, want audience=sigstore and the URL's own parameters", q)
	}
	_, err = GitHubToken(srv.URL+"/token", "wrong", nil)(context.Background())
	if err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("refused: %v", err)
	}
}
