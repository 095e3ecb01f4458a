package sign

import (
	"context"
	"fmt"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// Trust is what keyless signatures are verified against: the Fulcio
// certificate authorities, the Rekor and CT log keys.
type Trust struct {
	Material root.TrustedMaterial
	// RequireSCT requires a certificate transparency proof embedded in
	// the certificate, as public Fulcio issues.
	RequireSCT bool
}

// TrustSource provides the Trust, read when first needed.
type TrustSource interface {
	Trust(ctx context.Context) (*Trust, error)
}

// TrustFunc adapts a function to a TrustSource.
type TrustFunc func(ctx context.Context) (*Trust, error)

// Trust implements TrustSource.
func (f TrustFunc) Trust(ctx context.Context) (*Trust, error) { return f(ctx) }

// PublicGood is the public Sigstore instance's trust root, through
// cosign's TUF client (its embedded root, refreshed when online).
func PublicGood() TrustSource {
	return TrustFunc(func(context.Context) (*Trust, error) {
		m, err := cosign.TrustedRoot()
		if err != nil {
			return nil, fmt.Errorf("the public Sigstore trust root (TUF): %w", err)
		}
		return &Trust{Material: m, RequireSCT: true}, nil
	})
}

// TrustedRootFile is a private Sigstore's trusted_root.json (the format
// of cosign verify --trusted-root).
func TrustedRootFile(path string) TrustSource {
	return TrustFunc(func(context.Context) (*Trust, error) {
		m, err := root.NewTrustedRootFromPath(path)
		if err != nil {
			return nil, fmt.Errorf("reading the trusted root %s: %w", path, err)
		}
		return &Trust{Material: m, RequireSCT: len(m.CTLogs()) > 0}, nil
	})
}
