package artifact

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CopySource is what a copy between repositories carries: a digest in
// its repository, read from the build's OCI layout or from that
// repository, and cosign's manifests about it there.
type CopySource struct {
	Ref name.Digest
	// LayoutDir is the build's local OCI layout holding Ref's digest;
	// "" reads the image from Ref's repository (slipway promote).
	LayoutDir string
	// Attached are cosign's .sig/.att manifests in Ref's repository.
	Attached []Attached
	// ReferrersOf are the digests whose referrers go too (by digest,
	// after their subject): Sigstore bundles only, or every referrer
	// with AllReferrers.
	ReferrersOf  []v1.Hash
	AllReferrers bool
}
