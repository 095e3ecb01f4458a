package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/sigstore/cosign/v2/pkg/cosign/attestation"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Verifier is whom signatures must be by: a public key (PEM), or a
// keyless certificate's identity (Subject) and OIDC issuer.
type Verifier struct {
	PublicKey []byte
	// KeyRef is the key input, for messages.
	KeyRef          string
	Subject, Issuer string
}

// String names the verifier for a person.
func (v Verifier) String() string {
	if v.PublicKey != nil {
		return "key " + v.KeyRef
	}
	return fmt.Sprintf("%s (issuer %s)", v.Subject, v.Issuer)
}

// KeyVerifier is the verifier of a key input: a public key as it is, or
// the public half of a private key (decrypted) or of a KMS key.
func KeyVerifier(ctx context.Context, k Key) (Verifier, error) {
	if k.PEM != nil {
		if _, err := cryptoutils.UnmarshalPEMToPublicKey(k.PEM); err == nil {
			return Verifier{PublicKey: k.PEM, KeyRef: k.Ref}, nil
		}
	}
	sv, err := k.Signer(ctx)
	if err != nil {
		return Verifier{}, err
	}
	pem, err := publicPEM(sv)
	if err != nil {
		return Verifier{}, err
	}
	return Verifier{PublicKey: pem, KeyRef: k.Ref}, nil
}

// result is v as a sign result names its signer, which checkOpts and
// bundleCheck read.
func (v Verifier) result() *pipeline.SignResult {
	return &pipeline.SignResult{PublicKey: string(v.PublicKey), CertificateIdentity: v.Subject, CertificateIssuer: v.Issuer}
}

// ErrUnsigned says an image has no signature by the verifier.
var ErrUnsigned = errors.New("not signed")

// VerifySource verifies what another run signed: ref's signatures in its
// repository (its index and each manifest in it that has one, in the
// plan's formats; ref's own must be there) and its legacy attestations,
// by v, as `cosign verify` and `cosign verify-attestation` would. It
// returns the result as if this run had signed it, for the copy to carry
// those manifests and verify them again where they land, and the
// attestations' predicates.
func (s *Stage) VerifySource(ctx context.Context, p *pipeline.SignPlan, ref name.Digest, v Verifier) (*pipeline.SignResult, []Attested, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, nil, err
	}
	digests, err := s.signable(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	res := &pipeline.SignResult{Mode: p.Mode, TlogIndex: -1, Signed: []v1.Hash{}, Artifacts: []artifact.Attached{}, Attestations: []pipeline.Attestation{}}
	repo := ref.Context()
	for _, d := range digests {
		sig, err := s.exists(ctx, artifact.Attached{Kind: artifact.Signature, Subject: d}.In(repo))
		if err != nil {
			return nil, nil, err
		}
		att, err := s.exists(ctx, artifact.Attached{Kind: artifact.Attestation, Subject: d}.In(repo))
		if err != nil {
			return nil, nil, err
		}
		if sig {
			res.Artifacts = append(res.Artifacts, artifact.Attached{Kind: artifact.Signature, Subject: d})
		}
		if att {
			res.Artifacts = append(res.Artifacts, artifact.Attached{Kind: artifact.Attestation, Subject: d})
		}
		// A bundle-only signer leaves no .sig: every manifest is then
		// checked for its bundle.
		if sig || !p.Format.Legacy() {
			res.Signed = append(res.Signed, d)
		}
	}
	if len(res.Signed) == 0 || res.Signed[0] != h {
		return nil, nil, fmt.Errorf("%s is %w: it has no cosign signature (%s)", ref, ErrUnsigned, artifact.Attached{Kind: artifact.Signature, Subject: h})
	}
	var atts []Attested
	if p.Format.Legacy() {
		if atts, err = s.AttestedBy(ctx, p, ref, v); err != nil {
			return nil, nil, fmt.Errorf("verifying the attestations of %s by %s: %w", ref, v, err)
		}
	}
	seen := map[[2]string]bool{}
	for _, a := range atts {
		k := [2]string{a.PredicateType, a.Platform}
		if seen[k] {
			continue
		}
		seen[k] = true
		res.Attestations = append(res.Attestations, pipeline.Attestation{Type: attestationType(a.PredicateType), PredicateType: a.PredicateType, Subject: h.String(), Platform: a.Platform})
	}
	if err := s.describeAs(res, ref, p, v); err != nil {
		return nil, nil, err
	}
	if err := s.Verify(ctx, p, []name.Repository{repo}, &pipeline.BuildResult{Digest: h}, res); err != nil {
		return nil, nil, fmt.Errorf("%s is %w by %s: %w", ref, ErrUnsigned, v, err)
	}
	res.Verified = true
	return res, atts, nil
}

// exists says whether tag is in its repository.
func (s *Stage) exists(ctx context.Context, tag name.Tag) (bool, error) {
	_, err := remote.Head(tag, s.remoteOpts(ctx)...)
	var te *transport.Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("looking for %s: %w", tag, err)
	}
}

// attestationType is cosign's --type for a predicate type slipway attests.
func attestationType(predicateType string) string {
	switch predicateType {
	case in_toto.PredicateCycloneDX:
		return "cyclonedx"
	case attestation.CosignVulnProvenanceV01:
		return "vuln"
	}
	return predicateType
}
