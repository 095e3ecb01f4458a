package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intotov1 "github.com/in-toto/attestation/go/v1"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// The Sigstore bundle format, as cosign v3 writes an image signature: an
// in-toto statement about the digest, predicate type SignPredicateType,
// in a DSSE envelope, in a bundle (v0.3) that is the one layer of an OCI
// 1.1 referrer of the image (artifactType BundleMediaType, subject the
// image), pushed with the Referrers API or, where the registry has none,
// listed in the sha256-<hex> referrers tag (go-containerregistry's
// fallback, which cosign v3 relies on too).
const (
	BundleMediaType   = "application/vnd.dev.sigstore.bundle.v0.3+json"
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// predicateAnnotation names a bundle referrer's predicate type.
	predicateAnnotation = "dev.sigstore.bundle.predicateType"
	// maxReferrers bounds the referrers read for one digest.
	maxReferrers = 100
)

// keypair is a Signer as sigstore-go's sign.Keypair.
type keypair struct {
	sv      *Signer
	pub     crypto.PublicKey
	details signature.AlgorithmDetails
	hint    []byte
	// seen recognizes this signer's bundles from an earlier run: by its
	// key, or by its certificate identity under the trust root; nil when
	// they cannot be recognized (keyless with no trust root at hand).
	seen *bundleCheck
}

func newKeypair(ctx context.Context, sv *Signer) (*keypair, error) {
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	pkd, err := signature.GetDefaultPublicKeyDetails(pub)
	if err != nil {
		return nil, err
	}
	details, err := signature.GetAlgorithmDetails(pkd)
	if err != nil {
		return nil, err
	}
	hint, err := keyHint(pub)
	if err != nil {
		return nil, err
	}
	return &keypair{sv: sv, pub: pub, details: details, hint: []byte(hint)}, nil
}

// keyHint names a public key in a bundle, as sigstore-go does: the
// base64 SHA-256 of its DER.
func keyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.details.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.details.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.pub }
func (k *keypair) GetKeyAlgorithm() string {
	switch k.details.GetKeyType() {
	case signature.RSA:
		return "RSA"
	case signature.ED25519:
		return "ED25519"
	default:
		return "ECDSA"
	}
}

func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.pub)
	return string(b), err
}

// SignData signs data with the signer (which hashes it) and returns the
// signature and the digest signed.
func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	sig, err := k.sv.SignMessage(bytes.NewReader(data), options.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	digest := data
	if hf := k.details.GetHashType(); hf != crypto.Hash(0) {
		h := hf.New()
		h.Write(data)
		digest = h.Sum(nil)
	}
	return sig, digest, nil
}

// issued is the certificate Fulcio already gave the signer (keyless), as
// sigstore-go's certificate provider.
type issued []byte

func (c issued) GetCertificate(context.Context, sgsign.Keypair, *sgsign.CertificateProviderOptions) ([]byte, error) {
	return c, nil
}

// signStatement is the in-toto statement cosign v3 signs for an image:
// the digest as its subject, an empty predicate.
func signStatement(ref name.Digest) ([]byte, error) {
	h, err := hashOf(ref)
	if err != nil {
		return nil, err
	}
	return protojson.Marshal(&intotov1.Statement{
		Type:          intotov1.StatementTypeUri,
		Subject:       []*intotov1.ResourceDescriptor{{Digest: map[string]string{h.Algorithm: h.Hex}}},
		PredicateType: SignPredicateType,
		Predicate:     &structpb.Struct{},
	})
}

// signBundle signs ref in the bundle format and pushes the bundle as a
// referrer of ref, unless the same key already did (a re-run). It
// returns the log index (-1 when not logged) and whether the signature
// was there already.
func (s *Stage) signBundle(ctx context.Context, p *pipeline.SignPlan, ref name.Digest, sv *Signer, kp *keypair) (int64, bool, error) {
	if idx, ok := s.bundled(ctx, ref, kp.seen, isSignature, nil); ok {
		return idx, true, nil
	}
	payload, err := signStatement(ref)
	if err != nil {
		return -1, false, err
	}
	idx, err := s.pushBundle(ctx, p, ref, sv, kp, payload, map[string]string{predicateAnnotation: SignPredicateType})
	return idx, false, err
}

// pushBundle signs the in-toto statement payload as a DSSE envelope in a
// Sigstore bundle, logged when the plan says so, and pushes it as a
// referrer of ref with annotations (cosign v3's, and the predicate type).
// It returns the log index, -1 when not logged.
func (s *Stage) pushBundle(ctx context.Context, p *pipeline.SignPlan, ref name.Digest, sv *Signer, kp *keypair, payload []byte, annotations map[string]string) (int64, error) {
	opts := sgsign.BundleOptions{Context: ctx}
	if sv.Cert != nil {
		block, _ := pem.Decode(sv.Cert)
		if block == nil {
			return -1, errors.New("the signing certificate is not PEM")
		}
		opts.CertificateProvider = issued(block.Bytes)
	}
	if p.TlogUpload {
		opts.TransparencyLogs = []sgsign.Transparency{sgsign.NewRekor(&sgsign.RekorOptions{BaseURL: p.RekorURL, Version: p.RekorVersion, Retries: 3})}
	}
	if p.TimestampURL != "" {
		opts.TimestampAuthorities = []*sgsign.TimestampAuthority{sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{URL: p.TimestampURL, Retries: 3})}
	}
	pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: payload, PayloadType: "application/vnd.in-toto+json"}, kp, opts)
	if err != nil {
		return -1, fmt.Errorf("signing the bundle: %w", err)
	}
	raw, err := protojson.Marshal(pb)
	if err != nil {
		return -1, err
	}
	ann := map[string]string{
		"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339),
		"dev.sigstore.bundle.content":      "dsse-envelope",
	}
	maps.Copy(ann, annotations)
	layer := static.NewLayer(raw, types.MediaType(BundleMediaType))
	if err := ociremote.WriteReferrer(ref, BundleMediaType, []v1.Layer{layer}, ann, ociremote.WithRemoteOptions(s.remoteOpts(ctx)...)); err != nil {
		return -1, fmt.Errorf("writing the bundle referrer: %w", err)
	}
	idx := int64(-1)
	if es := pb.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		idx = es[0].GetLogIndex()
	}
	return idx, nil
}

// bundled finds a bundle of ref that want picks (of payload, when set)
// among ref's referrers that verifies as c says (with the log on, it
// must be logged; with a timestamp authority, timestamped). It returns
// its log index.
func (s *Stage) bundled(ctx context.Context, ref name.Digest, c *bundleCheck, want func(map[string]string) bool, payload []byte) (int64, bool) {
	if c == nil {
		return -1, false
	}
	b, err := s.verifiedBundle(ctx, ref, c, want, payload)
	if err != nil {
		return -1, false
	}
	idx := int64(-1)
	if es := b.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		idx = es[0].GetLogIndex()
	}
	return idx, true
}

// keyMaterial is what a signature by pub verifies against: the key and,
// with the log on, the trust root naming the log.
func (s *Stage) keyMaterial(ctx context.Context, p *pipeline.SignPlan, pub crypto.PublicKey) (root.TrustedMaterial, []verify.VerifierOption, error) {
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, nil, err
	}
	hint, err := keyHint(pub)
	if err != nil {
		return nil, nil, err
	}
	keys := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hint: root.NewExpiringKey(v, time.Time{}, time.Time{}),
	})
	tm := root.TrustedMaterialCollection{keys}
	vopts := []verify.VerifierOption{verify.WithNoObserverTimestamps()}
	if !p.TlogUpload && p.TimestampURL == "" {
		return tm, vopts, nil
	}
	if s.Trust == nil {
		return nil, nil, errors.New("no trust root naming the transparency log or the timestamp authority")
	}
	t, err := s.trust(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("the trust root: %w", err)
	}
	tm = append(tm, t.Material)
	vopts = nil
	if p.TlogUpload {
		vopts = append(vopts, verify.WithTransparencyLog(1))
	}
	if p.TimestampURL != "" {
		vopts = append(vopts, verify.WithSignedTimestamps(1))
	} else {
		vopts = append(vopts, verify.WithNoObserverTimestamps())
	}
	return tm, vopts, nil
}

// isSignature picks a referrer that is an image signature.
func isSignature(ann map[string]string) bool { return ann[predicateAnnotation] == SignPredicateType }

// verifiedBundle reads ref's bundle referrers that want picks (bounded)
// and returns the first that verifies with tm, vopts and the identity
// policy.
// With payload set, only a bundle of that very DSSE payload counts.
func (s *Stage) verifiedBundle(ctx context.Context, ref name.Digest, c *bundleCheck, want func(annotations map[string]string) bool, payload []byte) (*sgbundle.Bundle, error) {
	h, err := hashOf(ref)
	if err != nil {
		return nil, err
	}
	digest, err := hex.DecodeString(h.Hex)
	if err != nil {
		return nil, err
	}
	v, err := verify.NewVerifier(c.tm, c.vopts...)
	if err != nil {
		return nil, err
	}
	ro := ociremote.WithRemoteOptions(s.remoteOpts(ctx)...)
	idx, err := ociremote.Referrers(ref, BundleMediaType, ro)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, err)
	}
	var errs []error
	for i, d := range idx.Manifests {
		if i == maxReferrers {
			break
		}
		if d.ArtifactType != BundleMediaType {
			continue
		}
		var b *sgbundle.Bundle
		ann := d.Annotations
		if ann[predicateAnnotation] == "" {
			// The referrers tag cosign v3 writes lists its bundles
			// without annotations: the statement says what it is.
			if b, err = ociremote.Bundle(ref.Context().Digest(d.Digest.String()), ro); err != nil {
				errs = append(errs, err)
				continue
			}
			ann = map[string]string{predicateAnnotation: predicateTypeOf(b)}
		}
		if !want(ann) {
			continue
		}
		if b == nil {
			if b, err = ociremote.Bundle(ref.Context().Digest(d.Digest.String()), ro); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if payload != nil && !bytes.Equal(b.GetDsseEnvelope().GetPayload(), payload) {
			continue
		}
		if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest(h.Algorithm, digest), c.identity)); err != nil {
			errs = append(errs, fmt.Errorf("bundle %s: %w", d.Digest, err))
			continue
		}
		return b, nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("no such bundle among the referrers of %s", ref)
	}
	return nil, errors.Join(errs...)
}

// bundleCheck is how bundles by the signer a result names verify.
type bundleCheck struct {
	tm       root.TrustedMaterial
	vopts    []verify.VerifierOption
	identity verify.PolicyOption
}

// verifyBundle checks that ref has a bundle that want picks, by the
// signer the result names.
func (s *Stage) verifyBundle(ctx context.Context, p *pipeline.SignPlan, ref name.Digest, signed *pipeline.SignResult, want func(map[string]string) bool) error {
	c, err := s.bundleCheck(ctx, p, signed)
	if err != nil {
		return err
	}
	_, err = s.verifiedBundle(ctx, ref, c, want, nil)
	return err
}

// bundleCheck is the signer the result names: its public key, or its
// certificate identity under the trust root.
func (s *Stage) bundleCheck(ctx context.Context, p *pipeline.SignPlan, signed *pipeline.SignResult) (*bundleCheck, error) {
	if signed.PublicKey != "" {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(signed.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("reading the signer's public key: %w", err)
		}
		return s.keyCheck(ctx, p, pub)
	}
	return s.identityCheck(ctx, p, signed.CertificateIdentity, signed.CertificateIssuer)
}

// signerCheck is how sv's own bundles verify: by its key, or by its
// certificate's identity.
func (s *Stage) signerCheck(ctx context.Context, p *pipeline.SignPlan, sv *Signer, kp *keypair) (*bundleCheck, error) {
	if sv.Cert == nil {
		return s.keyCheck(ctx, p, kp.pub)
	}
	return s.identityCheck(ctx, p, sv.Subject, sv.Issuer)
}

// keyCheck verifies bundles signed by the key pub.
func (s *Stage) keyCheck(ctx context.Context, p *pipeline.SignPlan, pub crypto.PublicKey) (*bundleCheck, error) {
	tm, vopts, err := s.keyMaterial(ctx, p, pub)
	if err != nil {
		return nil, err
	}
	return &bundleCheck{tm, vopts, verify.WithKey()}, nil
}

// identityCheck verifies bundles signed with a certificate for identity
// from issuer, under the trust root.
func (s *Stage) identityCheck(ctx context.Context, p *pipeline.SignPlan, identity, issuer string) (*bundleCheck, error) {
	if s.Trust == nil {
		return nil, errors.New("no trust root to verify a keyless signature with")
	}
	t, err := s.trust(ctx)
	if err != nil {
		return nil, fmt.Errorf("the keyless trust root: %w", err)
	}
	// A keyless certificate lives minutes: a timestamp authority's signed
	// time, or the log's (Rekor v1's entries carry one, v2's do not), says
	// when it signed; without either, only now.
	var vopts []verify.VerifierOption
	if p.TlogUpload {
		vopts = append(vopts, verify.WithTransparencyLog(1))
	}
	switch {
	case p.TimestampURL != "":
		vopts = append(vopts, verify.WithSignedTimestamps(1))
	case p.TlogUpload && p.RekorVersion != 2:
		vopts = append(vopts, verify.WithIntegratedTimestamps(1))
	default:
		vopts = append(vopts, verify.WithCurrentTime())
	}
	if t.RequireSCT {
		vopts = append(vopts, verify.WithSignedCertificateTimestamps(1))
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", identity, "")
	if err != nil {
		return nil, err
	}
	return &bundleCheck{t.Material, vopts, verify.WithCertificateIdentity(id)}, nil
}

// predicateTypeOf is the predicate type of the in-toto statement a
// bundle's DSSE envelope holds, "" for anything else.
func predicateTypeOf(b *sgbundle.Bundle) string {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(b.GetDsseEnvelope().GetPayload(), &st) != nil {
		return ""
	}
	return st.PredicateType
}

// hashOf is ref's digest.
func hashOf(ref name.Digest) (v1.Hash, error) { return v1.NewHash(ref.DigestStr()) }
