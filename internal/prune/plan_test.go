package prune

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func hashOf(s string) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256([]byte(s)))}
}

// fixture builds a snapshot by names: each manifest's digest is the hash
// of its name.
type fixture struct {
	s     *Snapshot
	names map[v1.Hash]string
}

func newFixture(t *testing.T) *fixture {
	repo, err := name.NewRepository("registry.test/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		s:     &Snapshot{Repository: repo, Tags: map[string]v1.Hash{}, Manifests: map[v1.Hash]*Manifest{}, Referrers: map[v1.Hash][]v1.Hash{}},
		names: map[v1.Hash]string{},
	}
}

// image adds an image named n, created age ago (of now), with one layer
// of size bytes named layer.
func (f *fixture) image(n string, created time.Time, layer string, size int64) v1.Hash {
	d := hashOf(n)
	f.names[d] = n
	f.s.Manifests[d] = &Manifest{
		Digest: d, MediaType: types.OCIManifestSchema1, Size: 100, Created: created,
		Blobs: []v1.Descriptor{{Digest: hashOf("config " + n), Size: 10}, {Digest: hashOf(layer), Size: size}},
	}
	return d
}

func (f *fixture) index(n string, created time.Time, children ...v1.Hash) v1.Hash {
	d := hashOf(n)
	f.names[d] = n
	f.s.Manifests[d] = &Manifest{Digest: d, MediaType: types.OCIImageIndex, Size: 200, Created: created, Children: children}
	return d
}

func (f *fixture) name(d v1.Hash) string {
	if n, ok := f.names[d]; ok {
		return n
	}
	return d.String()
}

// The plan keeps what the rules say and everything a kept tag reaches
// (children, signatures, referrers, a child shared with a deleted
// index), and deletes the rest in order: what was tagged, then its
// children, then attachments; with a tag sharing a kept digest deleted
// alone, an orphaned signature and a part-way run's digest.
func TestPlanRepo(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }
	f := newFixture(t)
	for i := 0; i <= 5; i++ {
		v := fmt.Sprintf("v1.0.%d", i)
		f.s.Tags[v] = f.image(v, day(60-i), "layer "+v, 1000)
	}
	f.s.Tags["v1.0.10"] = f.image("v1.0.10", day(1), "layer v1.0.10", 1000)
	f.s.Tags["latest"] = f.s.Tags["v1.0.10"]
	f.s.Tags["v1.0.10-old-alias"] = f.s.Tags["v1.0.10"]
	shared := f.image("shared child", day(3), "layer shared", 5000)
	amd := f.image("pr-1 amd64", day(20), "layer pr-1", 2000)
	att := f.image("pr-1 attestation", day(20), "layer att", 300)
	f.s.Tags["pr-1"] = f.index("pr-1", day(20), amd, att, shared)
	f.s.Tags["pr-2"] = f.index("pr-2", day(2), shared)
	f.s.Tags["sha256-"+f.s.Tags["pr-1"].Hex+".sig"] = f.image("pr-1 sig", day(20), "sig pr-1", 50)
	f.s.Tags["sha256-"+shared.Hex+".sig"] = f.image("shared sig", day(3), "sig shared", 50)
	f.s.Tags["sha256-"+hashOf("gone").Hex+".att"] = f.image("orphan att", day(9), "att orphan", 70)
	ref := f.image("pr-1 referrer", day(20), "bundle pr-1", 40)
	f.s.Referrers[amd] = []v1.Hash{ref}
	f.s.Pending = []v1.Hash{f.image("left over", day(30), "layer left", 400)}

	p := &Policy{Rules: []Rule{
		{Repositories: []string{"registry.test/acme/*"}, Include: []string{"v*"}, Exclude: []string{"*-old-*"}, Last: 3},
		{Repositories: []string{"registry.test/acme/app"}, Include: []string{"pr-*"}, Within: Duration(7 * 24 * time.Hour)},
		{Repositories: []string{"registry.test/acme/app"}, Include: []string{"latest"}},
		{Repositories: []string{"registry.test/other"}},
	}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	rules := p.covering(f.s.Repository.String())
	if len(rules) != 3 {
		t.Fatalf("%d rules cover the repository, want 3", len(rules))
	}
	rp := PlanRepo(f.s, rules, now)

	var kept []string
	for _, k := range rp.Kept {
		kept = append(kept, k.Tag+"="+strings.Join(k.Rules, "+"))
	}
	wantKept := []string{
		"latest=rule 3 (latest: always)",
		"pr-2=rule 2 (pr-*: pushed within 7d)",
		"v1.0.10=rule 1 (v* but *-old-*: last 3 by semver)",
		"v1.0.4=rule 1 (v* but *-old-*: last 3 by semver)",
		"v1.0.5=rule 1 (v* but *-old-*: last 3 by semver)",
	}
	if !slices.Equal(kept, wantKept) {
		t.Errorf("kept:\n%s\nwant:\n%s", strings.Join(kept, "\n"), strings.Join(wantKept, "\n"))
	}
	if want := []string{"pr-1", "v1.0.0", "v1.0.1", "v1.0.10-old-alias", "v1.0.2", "v1.0.3"}; !slices.Equal(rp.Deleted, want) {
		t.Errorf("deleted tags = %v, want %v", rp.Deleted, want)
	}
	if want := []string{"v1.0.10-old-alias"}; !slices.Equal(rp.TagsAlone, want) {
		t.Errorf("tags deleted alone = %v, want %v", rp.TagsAlone, want)
	}
	var dels []string
	for _, d := range rp.Delete {
		s := fmt.Sprintf("%s %s", d.Kind, f.name(d.Digest))
		if d.Of != nil {
			s += " of " + f.name(*d.Of)
		}
		dels = append(dels, s)
	}
	wantDels := []string{
		// What was tagged and what a part-way run left (roots) first,
		// then children, attachments last; by digest within each.
		"tagged v1.0.0", "tagged v1.0.1", "tagged v1.0.2", "tagged v1.0.3", "tagged pr-1",
		"untagged left over",
		"child pr-1 amd64 of pr-1", "child pr-1 attestation of pr-1",
		"attestation orphan att of " + hashOf("gone").String(),
		"referrer pr-1 referrer of pr-1 amd64",
		"signature pr-1 sig of pr-1",
	}
	if !sameByRank(dels, wantDels) {
		t.Errorf("deletes:\n%s\nwant (in this order of kinds, by digest within each):\n%s", strings.Join(dels, "\n"), strings.Join(wantDels, "\n"))
	}
	if !slices.IsSortedFunc(rp.Delete, func(a, b Deletion) int { return a.Kind.rank() - b.Kind.rank() }) {
		t.Errorf("deletes not in order tagged, children, attachments: %v", dels)
	}
	for _, keep := range []v1.Hash{shared, f.s.Tags["sha256-"+shared.Hex+".sig"], f.s.Tags["pr-2"], f.s.Tags["latest"]} {
		if !rp.Keeps(keep) {
			t.Errorf("%s is not kept", f.name(keep))
		}
	}
	// Bytes: the deleted manifests, and the blobs only they reference
	// (each config and layer of theirs; the shared child's are kept).
	var want int64
	for _, d := range rp.Delete {
		m := f.s.Manifests[d.Digest]
		want += m.Size
		for _, b := range m.Blobs {
			want += b.Size
		}
	}
	if rp.Bytes != want || want == 0 {
		t.Errorf("bytes = %d, want %d", rp.Bytes, want)
	}
}

func rankOf(s string) int {
	k, _, _ := strings.Cut(s, " ")
	return Kind(k).rank()
}

// sameByRank says a and b hold the same entries per rank.
func sameByRank(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for r := 0; r <= 2; r++ {
		var x, y []string
		for i := range a {
			if rankOf(a[i]) == r {
				x = append(x, a[i])
			}
			if rankOf(b[i]) == r {
				y = append(y, b[i])
			}
		}
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

// A pushed-time rule ranks by creation; a rule with "last" keeps no tag
// that is no version under semver order.
func TestRuleKeeps(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f := newFixture(t)
	for i, tag := range []string{"main", "v2", "nightly", "v10", "1.2.3"} {
		f.s.Tags[tag] = f.image(tag, now.Add(-time.Duration(i)*time.Hour), "l"+tag, 1)
	}
	tags := []string{"1.2.3", "main", "nightly", "v10", "v2"}
	for _, c := range []struct {
		rule Rule
		want []string
	}{
		{Rule{Last: 2, Order: ByPushed}, []string{"main", "v2"}},
		{Rule{Last: 2, Order: BySemver}, []string{"1.2.3"}}, // v2 and v10 are no full version
		{Rule{Within: Duration(150 * time.Minute)}, []string{"main", "nightly", "v2"}},
		{Rule{Include: []string{"v*"}}, []string{"v10", "v2"}},
	} {
		c.rule.Repositories = []string{"registry.test/acme/app"}
		p := &Policy{Rules: []Rule{c.rule}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := p.covering("registry.test/acme/app")[0].keeps(f.s, tags, now); !slices.Equal(got, c.want) {
			t.Errorf("%+v keeps %v, want %v", c.rule, got, c.want)
		}
	}
}

// A bad policy is an input error naming the policy and the rule.
func TestReadPolicyErrors(t *testing.T) {
	for yml, want := range map[string]string{
		"rules: []":                "no rules",
		"rules: [{include: [v*]}]": "rule 1: no repositories",
		"rules: [{repositories: [a/b], order: newest}]":  `rule 1: order "newest"`,
		"rules: [{repositories: [a/b], within: 3 days}]": "invalid duration",
		"rules: [{repositories: [a/b], last: -1}]":       "rule 1: last -1",
		"rules: [{repositories: ['a/[']}]":               `pattern "a/["`,
		"rules: [{repositories: [a/b], keep: 3}]":        "field keep not found",
	} {
		_, err := ReadPolicy([]byte(yml))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), `input "policy"`) {
			t.Errorf("%s: error %v, want one naming policy and %q", yml, err, want)
		}
	}
	p, err := ReadPolicy([]byte("rules:\n- repositories: [r.test/a]\n  within: 1d12h\n  last: 2\n  order: pushed\n"))
	if err != nil || p.Rules[0].Within != Duration(36*time.Hour) || p.Rules[0].Include[0] != "*" {
		t.Errorf("policy %+v, %v", p, err)
	}
}
