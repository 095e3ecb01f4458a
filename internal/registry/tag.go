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

// Tag points every tag of repo at digest, which must already be in repo.
func (t *Tagger) Tag(ctx context.Context, repo, digest string, tags []string) error {
	ref, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		return fmt.Errorf("image %s@%s: %w", repo, digest, err)
	}
	opts := RemoteOptions(ctx, t.Keychain, t.Transport)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return t.Keychain.explain(ref.Context().Registry, fmt.Errorf("reading %s before tagging it: %w", ref, err))
	}
	for _, tag := range tags {
		tr := ref.Context().Tag(tag)
		if err := remote.Tag(tr, desc, opts...); err != nil {
			return t.Keychain.explain(ref.Context().Registry, fmt.Errorf("tagging %s as %s: %w", ref, tr, err))
		}
	}
	return nil
}
