package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Attested is one verified attestation's predicate.
type Attested struct {
	PredicateType string
	Predicate     json.RawMessage
	// Platform is the platform an SBOM attestation on an index is of
	// (PlatformAnnotation), "" when it says none.
	Platform string
}

// ErrNotSigned says an image has attestations, but none that this run's
// signing identity verifies: someone else attested it.
var ErrNotSigned = errors.New("its attestations are not signed by this run's key")

// Attested returns the attestations on ref (cosign's legacy .att
// attestations, which signature-format legacy and both write) that the
// plan's signing key verifies: the facts another run of the same key
// attested. It returns none, and no error, when ref has no attestation,
// and an error wrapping ErrNotSigned when it has some but the key
// verifies none. Keyless runs have no fixed identity to verify another
// run's certificate with yet: an error says so.
func (s *Stage) Attested(ctx context.Context, p *pipeline.SignPlan, ref name.Digest) ([]Attested, error) {
	if !p.Enabled || p.Mode != mode.Key || s.Identity == nil {
		return nil, fmt.Errorf("%w: reading another image's attestations needs a signing key (cosign-key); keyless is not supported yet", ErrNotSigned)
	}
	sv, err := s.Identity.Signer(ctx)
	if err != nil {
		return nil, err
	}
	pem, err := publicPEM(sv)
	if err != nil {
		return nil, err
	}
	return s.AttestedBy(ctx, p, ref, Verifier{PublicKey: pem, KeyRef: s.Identity.Describe()})
}

// AttestedBy returns the attestations on ref that v verifies, as Attested
// does for the plan's own key.
func (s *Stage) AttestedBy(ctx context.Context, p *pipeline.SignPlan, ref name.Digest, v Verifier) ([]Attested, error) {
	co, err := s.checkOpts(ctx, p, v.result())
	if err != nil {
		return nil, err
	}
	co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	tag, err := ociremote.AttestationTag(ref, co.RegistryClientOpts...)
	if err != nil {
		return nil, err
	}
	// No attestation tag reads as none.
	atts, err := ociremote.Signatures(tag, co.RegistryClientOpts...)
	if err != nil {
		return nil, fmt.Errorf("reading the attestations of %s: %w", ref, err)
	}
	if l, err := atts.Get(); err != nil || len(l) == 0 {
		return nil, err
	}
	verified, _, err := cosign.VerifyImageAttestation(ctx, atts, h, co)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSigned, err)
	}
	var out []Attested
	for _, a := range verified {
		payload, err := a.Payload()
		if err != nil {
			return nil, err
		}
		var env struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, fmt.Errorf("reading an attestation of %s: %w", ref, err)
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			return nil, fmt.Errorf("reading an attestation of %s: %w", ref, err)
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("reading an attestation of %s: %w", ref, err)
		}
		ann, err := a.Annotations()
		if err != nil {
			return nil, err
		}
		out = append(out, Attested{PredicateType: st.PredicateType, Predicate: st.Predicate, Platform: ann[PlatformAnnotation]})
	}
	return out, nil
}
