package prune

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/semver"
	"github.com/slipway-ci/slipway/internal/units"
)

// Manifest is what a repository holds at one digest, as far as the plan
// needs it.
type Manifest struct {
	Digest    v1.Hash
	MediaType types.MediaType
	Size      int64
	// Children are an index's manifests.
	Children []v1.Hash
	// Blobs are an image's config and layers.
	Blobs []v1.Descriptor
	// Created is when the image was made (see ByPushed); zero if unknown.
	Created time.Time
}

// Snapshot is one repository as read: its tags, every manifest they and
// their attachments reach, and the referrers of each.
type Snapshot struct {
	Repository name.Repository
	Tags       map[string]v1.Hash
	Manifests  map[v1.Hash]*Manifest
	// Referrers are the digests the referrers API lists for a subject.
	Referrers map[v1.Hash][]v1.Hash
	// Pending are digests a part-way run planned to delete (its journal).
	Pending []v1.Hash
}

// Kind says how a deleted digest relates to what was tagged.
type Kind string

const (
	KindTagged     Kind = "tagged"      // a deleted tag names it
	KindChild      Kind = "child"       // a deleted index references it
	KindSignature  Kind = "signature"   // a .sig tag of a deleted digest
	KindAttachment Kind = "attestation" // a .att or .sbom tag of a deleted digest
	KindReferrer   Kind = "referrer"    // it names a deleted digest as its subject
	KindUntagged   Kind = "untagged"    // left by a part-way run
)

// rank is the delete order: what is tagged (and an untagged root) first,
// then what it references, attachments last (so a part-way run leaves no
// tag on a broken image, and what it leaves is still found by its
// attachments).
func (k Kind) rank() int {
	switch k {
	case KindTagged, KindUntagged:
		return 0
	case KindChild:
		return 1
	default:
		return 2
	}
}

// priority picks the kind of a digest reached more than one way: a tag
// first, then how it hangs off what is deleted, "untagged" (a root only
// for want of another relation) last.
func (k Kind) priority() int {
	switch k {
	case KindTagged:
		return 0
	case KindChild:
		return 1
	case KindUntagged:
		return 3
	default:
		return 2
	}
}

// Kept is a tag the policy keeps, and why.
type Kept struct {
	Tag    string   `json:"tag"`
	Digest v1.Hash  `json:"digest"`
	Rules  []string `json:"rules"`
}

// Deletion is one manifest to delete.
type Deletion struct {
	Digest v1.Hash `json:"digest"`
	Kind   Kind    `json:"kind"`
	// Tags are the tags it carries (deleted with it).
	Tags []string `json:"tags,omitempty"`
	// Of is the digest it hangs off (the index of a child, the subject of
	// an attachment).
	Of    *v1.Hash        `json:"of,omitempty"`
	Media types.MediaType `json:"mediaType,omitempty"`
}

// RepoPlan is what prune does to one repository.
type RepoPlan struct {
	Repository name.Repository `json:"repository"`
	Kept       []Kept          `json:"kept"`
	// Deleted are the tags that go; TagsAlone those of them whose digest
	// a kept tag reaches (only the tag is deleted).
	Deleted   []string `json:"deletedTags"`
	TagsAlone []string `json:"tagsAlone,omitempty"`
	// Undeleted are tags alone the registry could not delete.
	Undeleted []string   `json:"undeleted,omitempty"`
	Delete    []Deletion `json:"delete"`
	// Bytes are the blobs only deleted manifests reference, and the
	// manifests themselves.
	Bytes int64 `json:"bytes"`
	// keep is every digest a kept tag reaches; tags the digests the
	// tags named.
	keep map[v1.Hash]bool
	tags map[string]v1.Hash
}

// Plan is what prune does.
type Plan struct {
	Repositories []*RepoPlan `json:"repositories"`
	Bytes        int64       `json:"bytes"`
}

// attached splits a cosign or referrers-fallback tag into its subject
// and kind; ok is false for an ordinary tag.
func attached(tag string) (v1.Hash, Kind, bool) {
	subj, suffix, ok := artifact.SubjectOf(tag)
	if !ok {
		return v1.Hash{}, "", false
	}
	switch suffix {
	case "sig":
		return subj, KindSignature, true
	case "":
		return subj, KindReferrer, true
	}
	return subj, KindAttachment, true
}

// PlanRepo decides, for rules (the policy's, with their index in it),
// what to keep and delete in s at now.
func PlanRepo(s *Snapshot, rules []indexed, now time.Time) *RepoPlan {
	p := &RepoPlan{Repository: s.Repository, keep: map[v1.Hash]bool{}, tags: s.Tags}
	var ordinary []string
	tagsOf := map[v1.Hash][]string{}
	attachments := map[v1.Hash][]attachment{}
	for tag, d := range s.Tags {
		tagsOf[d] = append(tagsOf[d], tag)
		if subj, k, ok := attached(tag); ok {
			attachments[subj] = append(attachments[subj], attachment{d, k})
			continue
		}
		ordinary = append(ordinary, tag)
	}
	for _, ts := range tagsOf {
		slices.Sort(ts)
	}
	slices.Sort(ordinary)

	why := map[string][]string{}
	for _, r := range rules {
		for _, tag := range r.keeps(s, ordinary, now) {
			why[tag] = append(why[tag], r.describe(r.i))
		}
	}
	var roots []v1.Hash
	for _, tag := range ordinary {
		d := s.Tags[tag]
		if rs := why[tag]; len(rs) > 0 {
			p.Kept = append(p.Kept, Kept{Tag: tag, Digest: d, Rules: rs})
			roots = append(roots, d)
			continue
		}
		p.Deleted = append(p.Deleted, tag)
	}
	g := graph{s: s, attachments: attachments}
	g.walk(roots, func(d v1.Hash, _ Kind, _ *v1.Hash) { p.keep[d] = true })

	// What goes: the deleted tags' digests, attachments whose subject is
	// not kept (a part-way run may have deleted the subject), and what a
	// part-way run planned; each with what it reaches, but nothing kept.
	type start struct {
		d    v1.Hash
		kind Kind
		of   *v1.Hash
	}
	var starts []start
	for _, tag := range p.Deleted {
		d := s.Tags[tag]
		if p.keep[d] {
			p.TagsAlone = append(p.TagsAlone, tag)
			continue
		}
		starts = append(starts, start{d, KindTagged, nil})
	}
	for _, subj := range sortedKeys(attachments) {
		if p.keep[subj] {
			continue
		}
		if _, ok := s.Manifests[subj]; ok {
			starts = append(starts, start{subj, KindUntagged, nil})
		}
		for _, a := range attachments[subj] {
			starts = append(starts, start{a.d, a.kind, &subj})
		}
	}
	for _, d := range s.Pending {
		starts = append(starts, start{d, KindUntagged, nil})
	}
	seen := map[v1.Hash]*Deletion{}
	for _, st := range starts {
		g.walkFrom(st.d, st.kind, st.of, func(d v1.Hash, k Kind, of *v1.Hash) {
			if p.keep[d] {
				return
			}
			if prev, ok := seen[d]; ok {
				if k.priority() < prev.Kind.priority() {
					prev.Kind, prev.Of = k, of
				}
				return
			}
			if _, ok := s.Manifests[d]; !ok {
				return // gone already
			}
			del := &Deletion{Digest: d, Kind: k, Of: of, Tags: tagsOf[d], Media: s.Manifests[d].MediaType}
			seen[d] = del
		})
	}
	for _, d := range seen {
		p.Delete = append(p.Delete, *d)
	}
	slices.SortFunc(p.Delete, func(a, b Deletion) int {
		return cmp.Or(cmp.Compare(a.Kind.rank(), b.Kind.rank()), strings.Compare(a.Digest.String(), b.Digest.String()))
	})
	p.Bytes = bytesFreed(s, p)
	return p
}

type attachment struct {
	d    v1.Hash
	kind Kind
}

// graph walks what a digest reaches in a snapshot: an index's children,
// a digest's attachment tags and its referrers.
type graph struct {
	s           *Snapshot
	attachments map[v1.Hash][]attachment
}

func (g graph) walk(roots []v1.Hash, visit func(v1.Hash, Kind, *v1.Hash)) {
	seen := map[v1.Hash]bool{}
	for _, r := range roots {
		g.walkSeen(r, KindTagged, nil, seen, visit)
	}
}

func (g graph) walkFrom(d v1.Hash, k Kind, of *v1.Hash, visit func(v1.Hash, Kind, *v1.Hash)) {
	g.walkSeen(d, k, of, map[v1.Hash]bool{}, visit)
}

// walkSeen is a depth-first walk, bounded by seen (a graph of digests has
// no cycle, but a registry may list one).
func (g graph) walkSeen(d v1.Hash, k Kind, of *v1.Hash, seen map[v1.Hash]bool, visit func(v1.Hash, Kind, *v1.Hash)) {
	if seen[d] {
		return
	}
	seen[d] = true
	visit(d, k, of)
	parent := d
	if m := g.s.Manifests[d]; m != nil {
		for _, c := range m.Children {
			g.walkSeen(c, KindChild, &parent, seen, visit)
		}
	}
	for _, a := range g.attachments[d] {
		g.walkSeen(a.d, a.kind, &parent, seen, visit)
	}
	for _, r := range g.s.Referrers[d] {
		g.walkSeen(r, KindReferrer, &parent, seen, visit)
	}
}

// bytesFreed sums the deleted manifests and the blobs no kept manifest
// references.
func bytesFreed(s *Snapshot, p *RepoPlan) int64 {
	kept := map[v1.Hash]bool{}
	for d := range p.keep {
		if m := s.Manifests[d]; m != nil {
			for _, b := range m.Blobs {
				kept[b.Digest] = true
			}
		}
	}
	var n int64
	counted := map[v1.Hash]bool{}
	for _, del := range p.Delete {
		m := s.Manifests[del.Digest]
		n += m.Size
		for _, b := range m.Blobs {
			if !kept[b.Digest] && !counted[b.Digest] {
				counted[b.Digest] = true
				n += b.Size
			}
		}
	}
	return n
}

// indexed is a rule with its place in the policy.
type indexed struct {
	*Rule
	i int
}

// covering are the policy's rules that cover repo.
func (p *Policy) covering(repo string) []indexed {
	var out []indexed
	for i := range p.Rules {
		if p.Rules[i].Covers(repo) {
			out = append(out, indexed{&p.Rules[i], i})
		}
	}
	return out
}

// keeps returns the tags (of ordinary, sorted) the rule keeps.
func (r indexed) keeps(s *Snapshot, ordinary []string, now time.Time) []string {
	var sel []string
	for _, t := range ordinary {
		if r.Selects(t) {
			sel = append(sel, t)
		}
	}
	if r.Last == 0 && r.Within == 0 {
		return sel
	}
	created := func(t string) time.Time {
		if m := s.Manifests[s.Tags[t]]; m != nil {
			return m.Created
		}
		return time.Time{}
	}
	keep := map[string]bool{}
	if r.Within > 0 {
		for _, t := range sel {
			if c := created(t); !c.IsZero() && now.Sub(c) <= time.Duration(r.Within) {
				keep[t] = true
			}
		}
	}
	if r.Last > 0 {
		ranked := slices.Clone(sel)
		switch r.Order {
		case BySemver:
			vs := map[string]*semver.Version{}
			ranked = ranked[:0]
			for _, t := range sel {
				if v := semverOf(t); v != nil {
					vs[t] = v
					ranked = append(ranked, t)
				}
			}
			slices.SortStableFunc(ranked, func(a, b string) int { return semver.Compare(vs[b], vs[a]) })
		case ByPushed:
			slices.SortStableFunc(ranked, func(a, b string) int { return created(b).Compare(created(a)) })
		}
		for _, t := range ranked[:min(r.Last, len(ranked))] {
			keep[t] = true
		}
	}
	var out []string
	for _, t := range sel {
		if keep[t] {
			out = append(out, t)
		}
	}
	return out
}

func sortedKeys[V any](m map[v1.Hash]V) []v1.Hash {
	ks := make([]v1.Hash, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	return ks
}

// Keeps reports whether a kept tag reaches d (Apply's last check before
// each delete).
func (p *RepoPlan) Keeps(d v1.Hash) bool { return p.keep[d] }

// Summary is the plan's last line for a repository.
func (p *RepoPlan) Summary() string {
	return fmt.Sprintf("%d tags kept, %d deleted; %d manifests deleted, %s", len(p.Kept), len(p.Deleted), len(p.Delete), units.Bytes(p.Bytes))
}
