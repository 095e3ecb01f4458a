// Package artifact names, by type, the manifests cosign attaches to a
// digest: a signature or an attestation, tagged <alg>-<hex>.sig or .att
// beside its subject in the subject's repository. The sign stage makes
// them, the copy step carries them to the other repositories, the report
// lists them; each knows its kind and subject without reading a suffix,
// and the tag is rendered from both only where a registry or a person
// needs it.
package artifact

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kind is what an attached manifest holds.
type Kind string

const (
	// Signature is cosign's simple-signing payloads and signatures.
	Signature Kind = "sig"
	// Attestation is cosign's DSSE-wrapped in-toto statements.
	Attestation Kind = "att"
)

// BundleMediaTypePrefix starts the media type of every Sigstore bundle:
// an OCI 1.1 referrer whose artifactType has it is a signature or an
// attestation in the bundle format (cosign v3's), which the copy step
// carries to the other repositories by digest.
const BundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"

// Attached is one of cosign's manifests about Subject.
type Attached struct {
	Kind    Kind
	Subject v1.Hash
}

// TagStr is the tag cosign gives it: sha256-<hex>.sig or .att.
func (a Attached) TagStr() string {
	return fmt.Sprintf("%s-%s.%s", a.Subject.Algorithm, a.Subject.Hex, a.Kind)
}

// In is its tag in repo (the subject's repository, or a copy's).
func (a Attached) In(repo name.Repository) name.Tag { return repo.Tag(a.TagStr()) }

// String is TagStr.
func (a Attached) String() string { return a.TagStr() }

// MarshalText renders it as its tag, the form slipway-report.json and
// --output json carry.
func (a Attached) MarshalText() ([]byte, error) { return []byte(a.TagStr()), nil }

// UnmarshalText reads a tag of cosign's form back (a report written
// before, or by another slipway).
func (a *Attached) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// SubjectOf reads a tag that hangs off a digest: cosign's
// <alg>-<hex>.sig, .att and .sbom, and the referrers API's fallback tag
// <alg>-<hex>. suffix is "sig", "att", "sbom" or "" (the fallback); ok is
// false for any other tag.
func SubjectOf(tag string) (subject v1.Hash, suffix string, ok bool) {
	rest, suffix, dotted := strings.Cut(tag, ".")
	if dotted && suffix != string(Signature) && suffix != string(Attestation) && suffix != "sbom" {
		return v1.Hash{}, "", false
	}
	alg, hex, found := strings.Cut(rest, "-")
	if !found {
		return v1.Hash{}, "", false
	}
	h, err := v1.NewHash(alg + ":" + hex) // checks the algorithm and the hex's length
	if err != nil {
		return v1.Hash{}, "", false
	}
	return h, suffix, true
}

// Parse reads a tag of cosign's form: <alg>-<hex>.sig or .att.
func Parse(tag string) (Attached, error) {
	rest, kind, ok := strings.Cut(tag, ".")
	if !ok || (Kind(kind) != Signature && Kind(kind) != Attestation) {
		return Attached{}, fmt.Errorf("%q is not a cosign signature or attestation tag (expected sha256-<hex>.sig or .att)", tag)
	}
	alg, hex, ok := strings.Cut(rest, "-")
	if !ok {
		return Attached{}, fmt.Errorf("%q is not a cosign signature or attestation tag (expected sha256-<hex>.sig or .att)", tag)
	}
	h := v1.Hash{Algorithm: alg, Hex: hex}
	if _, err := v1.NewHash(h.String()); err != nil { // checks the algorithm and the hex's length
		return Attached{}, fmt.Errorf("tag %q: %w", tag, err)
	}
	return Attached{Kind: Kind(kind), Subject: h}, nil
}
