package promote

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/registry"
)

// Batch is a replication file: source repositories, where their tags go
// and which tags, promoted in one process, Parallel at a time (regsync's
// idea, each image verified and judged as slipway promote does).
type Batch struct {
	Parallel int          `yaml:"parallel"`
	Images   []BatchEntry `yaml:"images"`
}

// BatchEntry promotes the tags of Source that Tags selects to every
// repository of To, each tag by the digest it names.
type BatchEntry struct {
	Source string    `yaml:"source"`
	To     []string  `yaml:"to"`
	Tags   TagFilter `yaml:"tags"`
}

// TagFilter selects tags: any Allow pattern (all when none), no Deny
// pattern, and within the Semver range when one is given (a tag that is
// no version is then left out).
type TagFilter struct {
	Allow  []string `yaml:"allow"`
	Deny   []string `yaml:"deny"`
	Semver string   `yaml:"semver"`

	constraint *semver.Constraints
}

// Pair is one promotion of a batch: a source by digest, the tag that
// named it, and where it goes.
type Pair struct {
	Source name.Digest
	Tag    string
	To     []name.Repository
}

// ReadBatch parses and checks a replication file; an error is an input
// error naming the batch input and the entry.
func ReadBatch(data []byte) (*Batch, error) {
	var b Batch
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil {
		return nil, errs.Input("batch", "reading the replication file: %v", err)
	}
	if b.Parallel == 0 {
		b.Parallel = 2
	}
	if b.Parallel < 1 || b.Parallel > 16 {
		return nil, errs.Input("batch", "parallel %d (expected 1 to 16)", b.Parallel)
	}
	if len(b.Images) == 0 {
		return nil, errs.Input("batch", "no images (expected images: with source, to and tags)")
	}
	for i := range b.Images {
		e := &b.Images[i]
		if err := e.check(); err != nil {
			return nil, errs.Input("batch", "image %d (%s): %v", i+1, e.Source, err)
		}
	}
	return &b, nil
}

func (e *BatchEntry) check() error {
	src, err := name.NewRepository(e.Source, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("source: %w (expected a repository, e.g. registry.example.com/team/app)", err)
	}
	if len(e.To) == 0 {
		return fmt.Errorf("no to (expected the repositories to promote to)")
	}
	for _, to := range e.To {
		r, err := name.NewRepository(to, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("to %q: %w", to, err)
		}
		if r.String() == src.String() {
			return fmt.Errorf("to %q is the source", to)
		}
	}
	for _, p := range slices.Concat(e.Tags.Allow, e.Tags.Deny) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("tag pattern %q: %w", p, err)
		}
	}
	if e.Tags.Semver != "" {
		c, err := semver.NewConstraint(e.Tags.Semver)
		if err != nil {
			return fmt.Errorf("semver %q: %w", e.Tags.Semver, err)
		}
		e.Tags.constraint = c
	}
	return nil
}

// Selects says the filter takes tag.
func (f *TagFilter) Selects(tag string) bool {
	match := func(ps []string) bool {
		for _, p := range ps {
			if ok, _ := path.Match(p, tag); ok {
				return true
			}
		}
		return false
	}
	if (len(f.Allow) > 0 && !match(f.Allow)) || match(f.Deny) {
		return false
	}
	if f.constraint != nil {
		v, err := semver.NewVersion(tag)
		return err == nil && f.constraint.Check(v)
	}
	return true
}

// Expand lists each source's tags, keeps those its filter selects, and
// resolves each to the digest it names now: the pairs to promote, in
// the file's order, tags sorted.
func (b *Batch) Expand(ctx context.Context, k authn.Keychain, t http.RoundTripper) ([]Pair, error) {
	opts := registry.RemoteOptions(ctx, k, t)
	var out []Pair
	for _, e := range b.Images {
		src, _ := name.NewRepository(e.Source, name.StrictValidation)
		var to []name.Repository
		for _, r := range e.To {
			repo, _ := name.NewRepository(r, name.StrictValidation)
			to = append(to, repo)
		}
		tags, err := remote.List(src, opts...)
		if err != nil {
			return nil, fmt.Errorf("listing the tags of %s: %w", src, err)
		}
		slices.Sort(tags)
		for _, tag := range tags {
			if _, _, attached := artifact.SubjectOf(tag); attached || !e.Tags.Selects(tag) {
				continue // signatures, attestations, referrers follow their image
			}
			desc, err := remote.Head(src.Tag(tag), opts...)
			if err != nil {
				return nil, fmt.Errorf("reading %s:%s: %w", src, tag, err)
			}
			out = append(out, Pair{Source: src.Digest(desc.Digest.String()), Tag: tag, To: to})
		}
	}
	return out, nil
}
