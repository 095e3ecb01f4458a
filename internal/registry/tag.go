package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Tagger moves tags onto a digest: one manifest PUT per tag, the last
// thing a run does to a registry.
type Tagger struct {
	Keychain *Keychain
	// Transport carries every request; nil means DefaultTransport.
	Transport http.RoundTripper
}

// Tag points every tag at d, which must already be in the tags'
// repository.
func (t *Tagger) Tag(ctx context.Context, d name.Digest, tags []name.Tag) error {
	opts := RemoteOptions(ctx, t.Keychain, t.Transport)
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return t.Keychain.explain(d.Context().Registry, fmt.Errorf("reading %s before tagging it: %w", d, err))
	}
	for _, tag := range tags {
		if tag.Context() != d.Context() {
			return fmt.Errorf("tagging %s as %s: not the same repository", d, tag)
		}
		if err := remote.Tag(tag, desc, opts...); err != nil {
			return t.Keychain.explain(d.Context().Registry, fmt.Errorf("tagging %s as %s: %w", d, tag, err))
		}
	}
	return nil
}
