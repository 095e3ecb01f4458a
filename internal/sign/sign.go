// Package sign signs, attests and verifies the built digest with cosign
// v2 as a library: key-based (a key file, a PEM in an environment variable
// or a KMS key) or keyless (an OIDC token exchanged at Fulcio for a
// short-lived certificate), optionally recorded in Rekor.
//
// What it writes is what the cosign CLI writes and reads: a
// "sha256-<hex>.sig" manifest per signed digest (the index and every
// manifest in it, as cosign sign --recursive) and one "sha256-<hex>.att"
// manifest on the index holding in-toto attestations of the CycloneDX
// SBOM of each platform and the vulnerability report, so `cosign verify`
// and `cosign verify-attestation` check them as they are.
//
// Signing is by digest only, and re-running it is idempotent: a signature
// the same key already made over the same payload is not added again, and
// an attestation replaces the previous one of its type and platform.
package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
)

// PublicKeyFile is the public key of a key-based run, under the output
// dir, for the verify command.
const PublicKeyFile = "cosign.pub"

// KeyTrustedRootFile is, next to cosign.pub, the trust root of a key-based
// run in a bundle format with the log off: no CA, no log. A bundle on a
// digest makes both cosign CLIs (v2.6 too, with its defaults) read bundles
// only, and they then require a trust root: offline, with no TUF to reach,
// this one lets the key alone verify.
const KeyTrustedRootFile = "trusted_root.json"

// KeyOnlyTrustedRoot is KeyTrustedRootFile's content: a trust root with
// no CA and no log, for a key-based verify offline.
const KeyOnlyTrustedRoot = `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}` + "\n"

// Stage is the sign stage: a pipeline.Signer.
type Stage struct {
	// Keychain authenticates to the registries (the one the build used).
	Keychain authn.Keychain
	// Transport carries every registry request (registry.RetryPolicy);
	// nil means registry.DefaultTransport.
	Transport http.RoundTripper
	// Identity gives the signer: a Key, or Keyless.
	Identity Identity
	// Trust verifies keyless signatures (Fulcio roots, Rekor and CT log
	// keys); nil for key-based signing.
	Trust TrustSource
	// Rekor returns the transparency log client when the plan uploads.
	Rekor func(url string) (*client.Rekor, error)
	// OutputDir receives cosign.pub (key mode).
	OutputDir string
	// Log takes progress lines (stderr).
	Log io.Writer

	trusted *Trust // the trust root, read once, for every verify
}

// Signer is a resolved signing identity.
type Signer struct {
	signature.SignerVerifier
	// Cert and Chain are the PEM certificate and its chain (keyless).
	Cert, Chain []byte
	// Subject and Issuer name a keyless certificate's identity.
	Subject, Issuer string
}

// Identity resolves the signer.
type Identity interface {
	Signer(ctx context.Context) (*Signer, error)
	// Describe names the identity for messages, never a secret.
	Describe() string
}

func (s *Stage) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

func (s *Stage) remoteOpts(ctx context.Context) []remote.Option {
	return registry.RemoteOptions(ctx, s.Keychain, s.Transport)
}

// Sign implements pipeline.Signer: it signs the digest and every platform
// image in repo, then attests the scan's SBOMs and vulnerability report on
// the digest.
func (s *Stage) Sign(ctx context.Context, p *pipeline.SignPlan, r name.Repository, built *pipeline.BuildResult, scanned *pipeline.ScanResult) (*pipeline.SignResult, error) {
	if built == nil || built.DigestStr() == "" {
		return nil, errors.New("nothing to sign: the build left no digest")
	}
	sv, err := s.Identity.Signer(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the signer (%s): %w", s.Identity.Describe(), err)
	}
	format := p.Format // the zero value is legacy
	var rekor *client.Rekor
	if p.TlogUpload && format.Legacy() {
		if rekor, err = s.Rekor(p.RekorURL); err != nil {
			return nil, fmt.Errorf("rekor client for %s: %w", p.RekorURL, err)
		}
	}
	// A keyless signer's earlier legacy signatures are recognized by its
	// certificate identity under the trust root (a key's, by its key).
	var seen *cosign.CheckOpts
	if format.Legacy() && sv.Cert != nil && s.Trust != nil {
		seen, _ = s.checkOpts(ctx, p, &pipeline.SignResult{CertificateIdentity: sv.Subject, CertificateIssuer: sv.Issuer})
	}
	var kp *keypair
	if format.Bundle() {
		if kp, err = newKeypair(ctx, sv); err != nil {
			return nil, fmt.Errorf("the signer as a bundle keypair: %w", err)
		}
		// A signer's earlier bundles that cannot be checked count as
		// absent: it signs again.
		kp.seen, _ = s.signerCheck(ctx, p, sv, kp)
	}
	res := &pipeline.SignResult{Mode: p.Mode, TlogIndex: -1, Signatures: []name.Tag{}, Artifacts: []artifact.Attached{}, Attestations: []pipeline.Attestation{}}
	subject := built.In(r)
	digests, err := s.signable(ctx, subject)
	if err != nil {
		return nil, err
	}
	for _, d := range digests {
		ref := r.Digest(d.String())
		idx, already := int64(-1), true
		if format.Legacy() {
			if idx, already, err = s.signDigest(ctx, ref, sv, rekor, seen); err != nil {
				return nil, fmt.Errorf("signing %s: %w", ref, err)
			}
			sig := artifact.Attached{Kind: artifact.Signature, Subject: d}
			res.Artifacts = append(res.Artifacts, sig)
			res.Signatures = append(res.Signatures, sig.In(r))
		}
		if format.Bundle() {
			bidx, bundled, err := s.signBundle(ctx, p, ref, sv, kp)
			if err != nil {
				return nil, fmt.Errorf("signing %s in the bundle format: %w", ref, err)
			}
			if !format.Legacy() {
				idx = bidx
			}
			already = already && bundled
		}
		if d == built.Digest {
			res.TlogIndex = idx
		}
		res.Signed = append(res.Signed, d)
		if already {
			s.logf("slipway: %s is already signed by this %s", ref, signerKind(sv))
		} else {
			s.logf("slipway: signed %s", ref)
		}
	}
	if p.Attest && scanned != nil {
		todo, err := predicates(built, scanned)
		if err != nil {
			return nil, err
		}
		if format.Legacy() {
			atts, err := s.attestLegacy(ctx, subject, sv, rekor, todo)
			if err != nil {
				return nil, err
			}
			if len(atts) > 0 {
				res.Artifacts = append(res.Artifacts, artifact.Attached{Kind: artifact.Attestation, Subject: built.Digest})
				res.Attestations = atts
			}
		}
		if format.Bundle() && len(todo) > 0 {
			atts, err := s.attestBundles(ctx, p, subject, sv, kp, todo)
			if err != nil {
				return nil, err
			}
			res.Attestations = atts
		}
	}
	if err := s.describe(res, subject, p, sv); err != nil {
		return nil, err
	}
	return res, nil
}

// signerKind names what recognizes a signer's earlier signatures.
func signerKind(sv *Signer) string {
	if sv.Cert != nil {
		return "identity"
	}
	return "key"
}

// signable is what Sign signs, as cosign sign --recursive does: ref and,
// when it is an index, every manifest in it (the platform images and
// BuildKit's attestation manifests), so that a consumer verifying every
// instance of the index (containers/image's copy --all) finds each
// signed.
func (s *Stage) signable(ctx context.Context, ref name.Digest) ([]v1.Hash, error) {
	desc, err := remote.Get(ref, s.remoteOpts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	digests := []v1.Hash{desc.Digest}
	if !desc.MediaType.IsIndex() {
		return digests, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	for _, d := range m.Manifests {
		digests = append(digests, d.Digest)
	}
	return digests, nil
}

// signDigest signs ref's digest, uploading to the log when rekor is set,
// and attaches the signature unless the same key, or the same
// certificate identity as seen checks it, already signed it. It returns
// the log index, -1 when nothing was uploaded, and whether the signature
// was there already.
func (s *Stage) signDigest(ctx context.Context, ref name.Digest, sv *Signer, rekor *client.Rekor, seen *cosign.CheckOpts) (int64, bool, error) {
	payload, err := (&sigpayload.Cosign{Image: ref}).MarshalJSON()
	if err != nil {
		return -1, false, err
	}
	se, err := ociremote.SignedEntity(ref, ociremote.WithRemoteOptions(s.remoteOpts(ctx)...))
	if err != nil {
		return -1, false, fmt.Errorf("reading the image: %w", err)
	}
	// Skip the work when the key already signed this payload (a re-run
	// after an interrupted one): no second signature, no second log entry.
	// When the log is asked for, the signature found must be in it.
	if sv.Cert == nil {
		if idx, ok := s.alreadySigned(se, payload, sv, rekor != nil); ok {
			return idx, true, nil
		}
	} else if seen != nil {
		seen.ClaimVerifier = cosign.SimpleClaimVerifier
		if sigs, _, err := cosign.VerifyImageSignatures(ctx, ref, seen); err == nil && len(sigs) > 0 {
			idx := int64(-1)
			if b, err := sigs[0].Bundle(); err == nil && b != nil {
				idx = b.Payload.LogIndex
			}
			return idx, true, nil
		}
	}
	raw, err := sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return -1, false, err
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	opts := []static.Option{}
	if sv.Cert != nil {
		opts = append(opts, static.WithCertChain(sv.Cert, sv.Chain))
	}
	idx := int64(-1)
	if rekor != nil {
		h := sha256.New()
		h.Write(payload)
		entry, err := cosign.TLogUpload(ctx, rekor, raw, h, s.verifierBytes(sv))
		if err != nil {
			return -1, false, fmt.Errorf("uploading to the transparency log: %w", err)
		}
		opts = append(opts, static.WithBundle(cbundle.EntryToBundle(entry)))
		if entry.LogIndex != nil {
			idx = *entry.LogIndex
		}
	}
	sig, err := static.NewSignature(payload, b64, opts...)
	if err != nil {
		return -1, false, err
	}
	newSE, err := mutate.AttachSignatureToEntity(se, sig, mutate.WithDupeDetector(cremote.NewDupeDetector(sv)))
	if err != nil {
		return -1, false, err
	}
	if err := ociremote.WriteSignatures(ref.Repository, newSE, ociremote.WithRemoteOptions(s.remoteOpts(ctx)...)); err != nil {
		return -1, false, fmt.Errorf("writing the signature: %w", err)
	}
	return idx, false, nil
}

// alreadySigned finds a signature of payload by sv's key on se; with
// needLog, only one that carries its transparency log bundle counts. It
// returns the log index (-1 without one).
func (s *Stage) alreadySigned(se oci.SignedEntity, payload []byte, sv *Signer, needLog bool) (int64, bool) {
	sigs, err := se.Signatures()
	if err != nil {
		return -1, false
	}
	probe, err := static.NewSignature(payload, "")
	if err != nil {
		return -1, false
	}
	found, _ := cremote.NewDupeDetector(sv).Find(sigs, probe)
	if found == nil {
		return -1, false
	}
	b, err := found.Bundle()
	switch {
	case err == nil && b != nil:
		return b.Payload.LogIndex, true
	case needLog:
		return -1, false
	}
	return -1, true
}

// verifierBytes is what Rekor records as the signer: the certificate, or
// the PEM public key.
func (s *Stage) verifierBytes(sv *Signer) []byte {
	if sv.Cert != nil {
		return sv.Cert
	}
	b, _ := publicPEM(sv)
	return b
}

// publicPEM is sv's public key, PEM-encoded.
func publicPEM(sv *Signer) ([]byte, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}

// describe fills in the identity and the verify commands, and writes the
// public key of a key-based run next to the reports.
func (s *Stage) describe(res *pipeline.SignResult, ref name.Digest, p *pipeline.SignPlan, sv *Signer) error {
	if sv.Cert != nil {
		return s.describeAs(res, ref, p, Verifier{Subject: sv.Subject, Issuer: sv.Issuer})
	}
	pem, err := publicPEM(sv)
	if err != nil {
		return err
	}
	return s.describeAs(res, ref, p, Verifier{PublicKey: pem, KeyRef: s.Identity.Describe()})
}

// describeAs fills in the identity v and the commands that verify ref's
// signatures by it, writing a public key next to the reports.
func (s *Stage) describeAs(res *pipeline.SignResult, ref name.Digest, p *pipeline.SignPlan, v Verifier) error {
	tlog := ""
	if !p.TlogUpload {
		tlog = " --insecure-ignore-tlog=true"
	}
	if p.TimestampURL != "" {
		// cosign v3 turns this on by itself for a bundle logged in Rekor
		// v2 only; v2.6 needs it said.
		tlog += " --use-signed-timestamps"
	}
	if p.Format.Bundle() && p.TrustedRoot != "" {
		// cosign v3 reads the bundles first; a private log or CA is in
		// the trust root it is given.
		tlog += " --trusted-root " + shellQuote(p.TrustedRoot)
	}
	if v.PublicKey == nil {
		res.Identity = fmt.Sprintf("%s (issuer %s)", v.Subject, v.Issuer)
		res.CertificateIdentity, res.CertificateIssuer = v.Subject, v.Issuer
		id := fmt.Sprintf("--certificate-identity %s --certificate-oidc-issuer %s", shellQuote(v.Subject), shellQuote(v.Issuer))
		res.VerifyCommand = fmt.Sprintf("cosign verify %s%s %s", id, tlog, ref)
		if len(res.Attestations) > 0 {
			res.VerifyAttestationCommand = fmt.Sprintf("cosign verify-attestation --type cyclonedx %s%s %s", id, tlog, ref)
		}
		return nil
	}
	res.PublicKey = string(v.PublicKey)
	sum := sha256.Sum256(v.PublicKey)
	res.Identity = fmt.Sprintf("key %s (sha256:%x)", v.KeyRef, sum[:8])
	keyPath := PublicKeyFile
	if s.OutputDir != "" {
		if err := os.MkdirAll(s.OutputDir, 0o755); err != nil {
			return err
		}
		keyPath = filepath.Join(s.OutputDir, PublicKeyFile)
		if err := os.WriteFile(keyPath, v.PublicKey, 0o644); err != nil {
			return fmt.Errorf("writing the public key: %w", err)
		}
	}
	if p.Format.Bundle() && p.TrustedRoot == "" && !p.TlogUpload {
		rootPath := KeyTrustedRootFile
		if s.OutputDir != "" {
			rootPath = filepath.Join(s.OutputDir, KeyTrustedRootFile)
			if err := os.WriteFile(rootPath, []byte(KeyOnlyTrustedRoot), 0o644); err != nil {
				return fmt.Errorf("writing the key's trust root: %w", err)
			}
		}
		tlog += " --trusted-root " + shellQuote(rootPath)
	}
	res.VerifyCommand = fmt.Sprintf("cosign verify --key %s%s %s", shellQuote(keyPath), tlog, ref)
	if len(res.Attestations) > 0 {
		res.VerifyAttestationCommand = fmt.Sprintf("cosign verify-attestation --key %s --type cyclonedx%s %s", shellQuote(keyPath), tlog, ref)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Verify implements pipeline.Verifier: every digest signed verifies in
// each repository with the signer's key or certificate identity, and the
// attestations made are there.
func (s *Stage) Verify(ctx context.Context, p *pipeline.SignPlan, repos []name.Repository, built *pipeline.BuildResult, signed *pipeline.SignResult) error {
	if signed == nil || (signed.PublicKey == "" && signed.CertificateIdentity == "") {
		return errors.New("nothing was signed to verify")
	}
	format := p.Format // the zero value is legacy
	var co *cosign.CheckOpts
	if format.Legacy() {
		var err error
		if co, err = s.checkOpts(ctx, p, signed); err != nil {
			return err
		}
	}
	names := make([]string, len(repos))
	for i, r := range repos {
		names[i] = r.Name()
		for _, d := range signed.Signed {
			ref := r.Digest(d.String())
			if format.Legacy() {
				co.ClaimVerifier = cosign.SimpleClaimVerifier
				if _, _, err := cosign.VerifyImageSignatures(ctx, ref, co); err != nil {
					return fmt.Errorf("verifying the signature of %s: %w", ref, err)
				}
			}
			if format.Bundle() {
				if err := s.verifyBundle(ctx, p, ref, signed, isSignature); err != nil {
					return fmt.Errorf("verifying the signature bundle of %s: %w", ref, err)
				}
			}
		}
		if len(signed.Attestations) == 0 {
			continue
		}
		ref := built.In(r)
		if format.Bundle() {
			for _, a := range signed.Attestations {
				if err := s.verifyBundle(ctx, p, ref, signed, attestationOf(a)); err != nil {
					return fmt.Errorf("verifying the %s attestation bundle%s of %s: %w", a.Type, forPlatform(a.Platform), ref, err)
				}
			}
		}
		if !format.Legacy() {
			continue
		}
		co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
		atts, _, err := cosign.VerifyImageAttestations(ctx, ref, co)
		if err != nil {
			return fmt.Errorf("verifying the attestations of %s: %w", ref, err)
		}
		// Every attestation made, by type and platform, is among the
		// verified ones (older ones by the same identity do not count for
		// a missing one).
		verified := map[[2]string]bool{}
		for _, a := range atts {
			ann, err := a.Annotations()
			if err != nil {
				return err
			}
			verified[[2]string{ann["predicateType"], ann[PlatformAnnotation]}] = true
		}
		for _, a := range signed.Attestations {
			if !verified[[2]string{a.PredicateType, a.Platform}] {
				return fmt.Errorf("verifying the attestations of %s: the %s attestation%s was not verified", ref, a.Type, forPlatform(a.Platform))
			}
		}
	}
	s.logf("slipway: verified the signatures in %s", strings.Join(names, ", "))
	return nil
}

// trust reads the trust root once: the verify step and the copy step's
// verify in every other repository share it (a TUF refresh, a file).
func (s *Stage) trust(ctx context.Context) (*Trust, error) {
	if s.trusted == nil {
		t, err := s.Trust.Trust(ctx)
		if err != nil {
			return nil, err
		}
		s.trusted = t
	}
	return s.trusted, nil
}

// checkOpts are cosign's verification options for what this run signed:
// the public key the result carries, as `cosign verify --key` loads it,
// or the certificate identity, against the trust root.
func (s *Stage) checkOpts(ctx context.Context, p *pipeline.SignPlan, signed *pipeline.SignResult) (*cosign.CheckOpts, error) {
	co := &cosign.CheckOpts{
		RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(s.remoteOpts(ctx)...)},
		IgnoreTlog:         !p.TlogUpload,
	}
	if signed.PublicKey != "" {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(signed.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("reading the signer's public key: %w", err)
		}
		if co.SigVerifier, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("loading the signer's public key: %w", err)
		}
		if p.TlogUpload && s.Trust != nil {
			// A private Rekor's key comes from the trusted root.
			t, err := s.trust(ctx)
			if err != nil {
				return nil, fmt.Errorf("the trust root: %w", err)
			}
			co.TrustedMaterial = t.Material
		} else if p.TlogUpload {
			pubs, err := cosign.GetRekorPubs(ctx)
			if err != nil {
				return nil, fmt.Errorf("the transparency log's public keys: %w", err)
			}
			co.RekorPubKeys = pubs
		}
		return co, nil
	}
	if s.Trust == nil {
		return nil, errors.New("no trust root to verify a keyless signature with")
	}
	t, err := s.trust(ctx)
	if err != nil {
		return nil, fmt.Errorf("the keyless trust root: %w", err)
	}
	co.TrustedMaterial = t.Material
	co.IgnoreSCT = !t.RequireSCT
	co.Identities = []cosign.Identity{{Subject: signed.CertificateIdentity, Issuer: signed.CertificateIssuer}}
	return co, nil
}

func forPlatform(platform string) string {
	if platform == "" {
		return ""
	}
	return " for " + platform
}

var _ pipeline.Signer = (*Stage)(nil)
