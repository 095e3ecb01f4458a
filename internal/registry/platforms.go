package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipway-ci/slipway/internal/ocilayout"
)

// ErrNotFound says a reference names nothing in its registry.
var ErrNotFound = errors.New("not found")

// PlatformManifest is one platform image of an image in a registry.
type PlatformManifest struct {
	Platform string // os/arch[/variant]
	Digest   v1.Hash
	Manifest *v1.Manifest
}

// Platforms reads ref in its registry and its platform images: the image
// itself, or its index's (nested indexes and attestation manifests as
// ocilayout.Platforms reads them), by digest. It reads manifests and, for
// an image whose index entry names no platform, its config; no layer. A
// reference that names nothing is an error wrapping ErrNotFound.
func Platforms(ctx context.Context, k authn.Keychain, t http.RoundTripper, ref name.Reference) (name.Digest, []PlatformManifest, error) {
	desc, err := remote.Get(ref, RemoteOptions(ctx, k, t)...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return name.Digest{}, nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
		}
		return name.Digest{}, nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	d := ref.Context().Digest(desc.Digest.String())
	var pis []ocilayout.PlatformImage
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err == nil {
			pis, err = ocilayout.Platforms(idx)
		}
		if err != nil {
			return d, nil, fmt.Errorf("reading %s: %w", ref, err)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return d, nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		pis = []ocilayout.PlatformImage{{Digest: desc.Digest, Image: img}}
	}
	var out []PlatformManifest
	for _, pi := range pis {
		m, err := pi.Image.Manifest()
		if err != nil {
			return d, nil, fmt.Errorf("reading %s: its manifest %s: %w", ref, pi.Digest, err)
		}
		p := pi.Platform
		if p == nil {
			cf, err := pi.Image.ConfigFile() // a small blob, not a layer
			if err != nil {
				return d, nil, fmt.Errorf("reading %s: its config: %w", ref, err)
			}
			p = cf.Platform()
		}
		if p != nil {
			out = append(out, PlatformManifest{Platform: p.String(), Digest: pi.Digest, Manifest: m})
		}
	}
	return d, out, nil
}
