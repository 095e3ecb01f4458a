package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/cosign/attestation"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/empty"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// PlatformAnnotation marks which platform's SBOM an attestation on an
// index carries, so a re-run replaces each platform's own.
const PlatformAnnotation = "dev.slipway.platform"

// pending is an attestation to make and its predicate.
type pending struct {
	att       pipeline.Attestation
	predicate []byte
}

// predicates are what is attested on the built digest: the CycloneDX
// SBOM of every platform and the vulnerability report.
func predicates(built *pipeline.BuildResult, scanned *pipeline.ScanResult) ([]pending, error) {
	var todo []pending
	for _, rf := range scanned.Reports {
		switch {
		case rf.Format == pipeline.FormatCycloneDX:
			platform := rf.Platform
			if platform == "" && len(built.Platforms) == 1 {
				platform = built.Platforms[0].Platform
			}
			b, err := os.ReadFile(rf.Path)
			if err != nil {
				return nil, fmt.Errorf("reading the SBOM: %w", err)
			}
			todo = append(todo, pending{pipeline.Attestation{Type: "cyclonedx", PredicateType: in_toto.PredicateCycloneDX, Platform: platform, Path: rf.Path}, b})
		case rf.Format == pipeline.FormatJSON && rf.Platform == "":
			b, err := vulnPredicate(rf.Path, scanned)
			if err != nil {
				return nil, err
			}
			todo = append(todo, pending{pipeline.Attestation{Type: "vuln", PredicateType: attestation.CosignVulnProvenanceV01, Path: rf.Path}, b})
		}
	}
	return todo, nil
}

// attestLegacy attests todo on ref (the built digest) and writes them in
// one attestation manifest, replacing what an earlier run attested.
func (s *Stage) attestLegacy(ctx context.Context, ref name.Digest, sv *Signer, rekor *client.Rekor, todo []pending) ([]pipeline.Attestation, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	opts := ociremote.WithRemoteOptions(s.remoteOpts(ctx)...)
	se, err := ociremote.SignedEntity(ref, opts)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	var out []pipeline.Attestation
	for _, p := range todo {
		sig, err := s.attestation(ctx, ref, sv, rekor, p.att, p.predicate)
		if err != nil {
			return nil, fmt.Errorf("attesting the %s of %s: %w", p.att.Type, ref, err)
		}
		se, err = mutate.AttachAttestationToEntity(se, sig, mutate.WithReplaceOp(replaceOp{p.att.PredicateType, p.att.Platform}))
		if err != nil {
			return nil, err
		}
		p.att.Subject = ref.DigestStr()
		out = append(out, p.att)
	}
	if err := ociremote.WriteAttestations(ref.Repository, se, opts); err != nil {
		return nil, fmt.Errorf("writing the attestations of %s: %w", ref, err)
	}
	s.logf("slipway: attested %d predicates on %s", len(out), ref)
	return out, nil
}

// attestation signs an in-toto statement of predicate about ref as a
// DSSE envelope, as cosign attest does.
func (s *Stage) attestation(ctx context.Context, ref name.Digest, sv *Signer, rekor *client.Rekor, a pipeline.Attestation, predicate []byte) (oci.Signature, error) {
	payload, err := statement(ref, a, predicate)
	if err != nil {
		return nil, err
	}
	envelope, err := dsse.WrapSigner(sv, ctypes.IntotoPayloadType).SignMessage(bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	ann := map[string]string{"predicateType": a.PredicateType}
	if a.Platform != "" {
		ann[PlatformAnnotation] = a.Platform
	}
	opts := []static.Option{static.WithLayerMediaType(ctypes.DssePayloadType), static.WithAnnotations(ann)}
	if sv.Cert != nil {
		opts = append(opts, static.WithCertChain(sv.Cert, sv.Chain))
	}
	if rekor != nil {
		entry, err := cosign.TLogUploadDSSEEnvelope(ctx, rekor, envelope, s.verifierBytes(sv))
		if err != nil {
			return nil, fmt.Errorf("uploading to the transparency log: %w", err)
		}
		opts = append(opts, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	return static.NewAttestation(envelope, opts...)
}

// statement is the in-toto statement of predicate about ref, as cosign
// attest makes it.
func statement(ref name.Digest, a pipeline.Attestation, predicate []byte) ([]byte, error) {
	stmt, err := attestation.GenerateStatement(attestation.GenerateOpts{
		Predicate: bytes.NewReader(predicate),
		Type:      a.Type,
		Digest:    strings.TrimPrefix(ref.DigestStr(), "sha256:"),
		Repo:      ref.Repository.String(),
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(stmt)
}

// attestBundles attests todo on ref as Sigstore bundle referrers (the
// predicate type and the platform in their annotations), but not a
// statement the same signer already attested there (a re-run).
func (s *Stage) attestBundles(ctx context.Context, p *pipeline.SignPlan, ref name.Digest, sv *Signer, kp *keypair, todo []pending) ([]pipeline.Attestation, error) {
	var out []pipeline.Attestation
	kept := 0
	for _, t := range todo {
		payload, err := statement(ref, t.att, t.predicate)
		if err != nil {
			return nil, err
		}
		t.att.Subject = ref.DigestStr()
		out = append(out, t.att)
		if _, ok := s.bundled(ctx, ref, kp.seen, attestationOf(t.att), payload); ok {
			kept++
			continue
		}
		ann := map[string]string{predicateAnnotation: t.att.PredicateType}
		if t.att.Platform != "" {
			ann[PlatformAnnotation] = t.att.Platform
		}
		if _, err := s.pushBundle(ctx, p, ref, sv, kp, payload, ann); err != nil {
			return nil, fmt.Errorf("attesting the %s of %s in the bundle format: %w", t.att.Type, ref, err)
		}
	}
	s.logf("slipway: attested %d predicates on %s as Sigstore bundles (%d already there)", len(out), ref, kept)
	return out, nil
}

// attestationOf picks the bundle referrers of a's predicate type and
// platform.
func attestationOf(a pipeline.Attestation) func(map[string]string) bool {
	return func(ann map[string]string) bool {
		return ann[predicateAnnotation] == a.PredicateType && ann[PlatformAnnotation] == a.Platform
	}
}

// vulnPredicate is cosign's vulnerability predicate around Trivy's JSON
// report.
func vulnPredicate(path string, scanned *pipeline.ScanResult) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the vulnerability report: %w", err)
	}
	scanner, version, _ := strings.Cut(scanned.Scanner, " ")
	p := attestation.CosignVulnPredicate{
		Scanner: attestation.Scanner{
			URI:     "pkg:github/aquasecurity/" + scanner + "@" + version,
			Version: strings.TrimPrefix(version, "v"),
			DB:      attestation.DB{URI: "pkg:oci/trivy-db", Version: scanned.DB.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")},
			Result:  json.RawMessage(raw),
		},
		Metadata: attestation.Metadata{ScanStartedOn: scanned.StartedAt.UTC(), ScanFinishedOn: scanned.StartedAt.Add(scanned.Duration).UTC()},
	}
	return json.Marshal(p)
}

// replaceOp drops an earlier attestation of the same predicate type and
// platform: a re-run replaces, it does not pile up.
type replaceOp struct{ predicateType, platform string }

func (r replaceOp) Replace(existing oci.Signatures, add oci.Signature) (oci.Signatures, error) {
	sigs, err := existing.Get()
	if err != nil {
		return nil, err
	}
	var keep []oci.Signature
	for _, s := range sigs {
		ann, err := s.Annotations()
		if err != nil {
			return nil, err
		}
		if ann["predicateType"] == r.predicateType && ann[PlatformAnnotation] == r.platform {
			continue
		}
		keep = append(keep, s)
	}
	keep = append(keep, add)
	return mutate.AppendSignatures(empty.Signatures(), false, keep...)
}
