package prune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipway-ci/slipway/internal/registry"
)

// Registry is where prune reads and deletes: the OCI distribution API
// here (OCI); the hosted registries' own APIs implement it too.
type Registry interface {
	// Repositories lists the registry's repositories (its catalog), or
	// those under prefix (a pattern's literal path before its first
	// wildcard, "acme/" of ghcr.io/acme/*) where the registry lists per
	// owner or group; the caller matches the pattern.
	Repositories(ctx context.Context, reg name.Registry, prefix string) ([]name.Repository, error)
	// Read reads a repository's tags and every manifest they, their
	// attachments and pending reach.
	Read(ctx context.Context, repo name.Repository, pending []v1.Hash) (*Snapshot, error)
	// Delete deletes the manifest at d (and the tags on it); a manifest
	// already gone is no error.
	Delete(ctx context.Context, d name.Digest) error
	// DeleteTag deletes a tag alone, or fails wrapping ErrTagDelete when
	// the registry cannot.
	DeleteTag(ctx context.Context, t name.Tag) error
}

// ErrTagDelete says a registry deletes manifests, not tags alone.
var ErrTagDelete = errors.New("the registry does not delete a tag alone")

// OCI is the distribution API: tags listed, manifests read and deleted
// by digest, referrers from the referrers API or its tag fallback.
type OCI struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	// MaxManifests bounds what one repository's read fetches.
	MaxManifests int
}

func (o *OCI) opts(ctx context.Context) []remote.Option {
	return registry.RemoteOptions(ctx, o.Keychain, o.Transport)
}

// Repositories pages through the catalog, all of it.
func (o *OCI) Repositories(ctx context.Context, reg name.Registry, _ string) ([]name.Repository, error) {
	names, err := remote.Catalog(ctx, reg, o.opts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("listing the repositories of %s: %w", reg, err)
	}
	var out []name.Repository
	for _, n := range names {
		r, err := name.NewRepository(reg.Name()+"/"+n, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("listing the repositories of %s: %w", reg, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Read lists repo's tags and walks what they reach.
func (o *OCI) Read(ctx context.Context, repo name.Repository, pending []v1.Hash) (*Snapshot, error) {
	opts := o.opts(ctx)
	tags, err := remote.List(repo, opts...)
	if err != nil && !notFound(err) {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	s := &Snapshot{Repository: repo, Tags: map[string]v1.Hash{}, Manifests: map[v1.Hash]*Manifest{}, Referrers: map[v1.Hash][]v1.Hash{}}
	limit := o.MaxManifests
	if limit == 0 {
		limit = 100000
	}
	var queue []v1.Hash
	for _, t := range tags {
		desc, err := remote.Head(repo.Tag(t), opts...)
		if notFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s:%s: %w", repo, t, err)
		}
		s.Tags[t] = desc.Digest
		queue = append(queue, desc.Digest)
		// The subject of a signature or attestation tag, which may be
		// untagged now (a moved tag's image, a part-way run's leftover).
		if subj, _, ok := attached(t); ok {
			queue = append(queue, subj)
		}
	}
	queue = append(queue, pending...)
	// Breadth-first over children and referrers, each digest read once.
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if _, ok := s.Manifests[d]; ok {
			continue
		}
		if len(s.Manifests) >= limit {
			return nil, fmt.Errorf("reading %s: more than %d manifests", repo, limit)
		}
		m, err := o.manifest(ctx, repo.Digest(d.String()))
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.Manifests[d] = m
		queue = append(queue, m.Children...)
		refs, err := o.referrers(ctx, repo.Digest(d.String()))
		if err != nil {
			return nil, err
		}
		if len(refs) > 0 {
			s.Referrers[d] = refs
			queue = append(queue, refs...)
		}
	}
	// What a part-way run planned that is still there.
	for _, d := range pending {
		if _, ok := s.Manifests[d]; ok {
			s.Pending = append(s.Pending, d)
		}
	}
	return s, nil
}

var errGone = errors.New("gone")

// manifest reads one manifest: an index's children, an image's blobs and
// creation time (its annotation, else its config's).
func (o *OCI) manifest(ctx context.Context, d name.Digest) (*Manifest, error) {
	desc, err := remote.Get(d, o.opts(ctx)...)
	if notFound(err) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	m := &Manifest{Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size}
	if desc.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", d, err)
		}
		for _, c := range im.Manifests {
			m.Children = append(m.Children, c.Digest)
		}
		m.Created = annotated(im.Annotations)
		return m, nil
	}
	mf, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	m.Blobs = append([]v1.Descriptor{mf.Config}, mf.Layers...)
	if m.Created = annotated(mf.Annotations); m.Created.IsZero() && mf.Config.MediaType.IsConfig() {
		img, err := desc.Image()
		if err == nil {
			var cf *v1.ConfigFile
			if cf, err = img.ConfigFile(); err == nil {
				m.Created = cf.Created.Time
			}
		}
		if err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", d, err)
		}
	}
	return m, nil
}

func annotated(a map[string]string) time.Time {
	t, _ := time.Parse(time.RFC3339, a["org.opencontainers.image.created"])
	return t
}

// referrers lists d's referrers: the referrers API, or its tag fallback
// (which Read also meets as a tag).
func (o *OCI) referrers(ctx context.Context, d name.Digest) ([]v1.Hash, error) {
	idx, err := remote.Referrers(d, o.opts(ctx)...)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	var out []v1.Hash
	for _, m := range im.Manifests {
		out = append(out, m.Digest)
	}
	return out, nil
}

// Delete deletes the manifest at d.
func (o *OCI) Delete(ctx context.Context, d name.Digest) error {
	if err := remote.Delete(d, o.opts(ctx)...); err != nil && !notFound(err) {
		return fmt.Errorf("deleting %s: %w", d, err)
	}
	return nil
}

// DeleteTag deletes t by the API's DELETE of a tag, which the OCI
// distribution spec allows and not every registry implements.
func (o *OCI) DeleteTag(ctx context.Context, t name.Tag) error {
	err := remote.Delete(t, o.opts(ctx)...)
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return nil
		case http.StatusMethodNotAllowed, http.StatusBadRequest:
			return fmt.Errorf("deleting the tag %s: %w (%s)", t, ErrTagDelete, strings.TrimSpace(te.Error()))
		}
	}
	if err != nil {
		return fmt.Errorf("deleting the tag %s: %w", t, err)
	}
	return nil
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// ByHost sends each registry's requests to its own API (GHCR's, GitLab's)
// and the others' to Default: the decorator a policy over several
// registries runs through.
type ByHost struct {
	Default Registry
	Hosts   map[string]Registry // by registry host (name.Registry.RegistryStr)
}

func (b ByHost) of(host string) Registry {
	if r, ok := b.Hosts[host]; ok {
		return r
	}
	return b.Default
}

// Repositories implements Registry.
func (b ByHost) Repositories(ctx context.Context, reg name.Registry, prefix string) ([]name.Repository, error) {
	return b.of(reg.RegistryStr()).Repositories(ctx, reg, prefix)
}

// Read implements Registry.
func (b ByHost) Read(ctx context.Context, repo name.Repository, pending []v1.Hash) (*Snapshot, error) {
	return b.of(repo.RegistryStr()).Read(ctx, repo, pending)
}

// Delete implements Registry.
func (b ByHost) Delete(ctx context.Context, d name.Digest) error {
	return b.of(d.RegistryStr()).Delete(ctx, d)
}

// DeleteTag implements Registry.
func (b ByHost) DeleteTag(ctx context.Context, t name.Tag) error {
	return b.of(t.RegistryStr()).DeleteTag(ctx, t)
}
