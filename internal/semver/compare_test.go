package semver

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// mustParse parses v or fails the test.
func mustParse(t *testing.T, v string, loose bool) *Version {
	t.Helper()
	p, err := Parse(v, loose)
	if err != nil {
		t.Fatalf("Parse(%q, %v): %v", v, loose, err)
	}
	return p
}

// node-semver's test/fixtures/comparisons.js: the first version is
// greater than the second (parsed loosely where the fixture says so).
var comparisons = []struct {
	greater, lesser string
	loose           bool
}{
	{"0.0.0", "0.0.0-foo", false},
	{"0.0.1", "0.0.0", false},
	{"1.0.0", "0.9.9", false},
	{"0.10.0", "0.9.0", false},
	{"0.99.0", "0.10.0", false},
	{"2.0.0", "1.2.3", false},
	{"v0.0.0", "0.0.0-foo", true},
	{"v0.0.1", "0.0.0", true},
	{"v1.0.0", "0.9.9", true},
	{"v0.10.0", "0.9.0", true},
	{"v0.99.0", "0.10.0", true},
	{"v2.0.0", "1.2.3", true},
	{"0.0.0", "v0.0.0-foo", true},
	{"0.0.1", "v0.0.0", true},
	{"1.0.0", "v0.9.9", true},
	{"0.10.0", "v0.9.0", true},
	{"0.99.0", "v0.10.0", true},
	{"2.0.0", "v1.2.3", true},
	{"1.2.3", "1.2.3-asdf", false},
	{"1.2.3", "1.2.3-4", false},
	{"1.2.3", "1.2.3-4-foo", false},
	{"1.2.3-5-foo", "1.2.3-5", false},
	{"1.2.3-5", "1.2.3-4", false},
	{"1.2.3-5-foo", "1.2.3-5-Foo", false},
	{"3.0.0", "2.7.2+asdf", false},
	{"1.2.3-a.10", "1.2.3-a.5", false},
	{"1.2.3-a.b", "1.2.3-a.5", false},
	{"1.2.3-a.b", "1.2.3-a", false},
	{"1.2.3-a.b.c.10.d.5", "1.2.3-a.b.c.5.d.100", false},
	{"1.2.3-r2", "1.2.3-r100", false},
	{"1.2.3-r100", "1.2.3-R2", false},
}

// node-semver's test/fixtures/equality.js: the two versions have the
// same precedence.
var equalities = []struct {
	a, b  string
	loose bool
}{
	{"1.2.3", "v1.2.3", true},
	{"1.2.3", "=1.2.3", true},
	{"1.2.3", "v 1.2.3", true},
	{"1.2.3", "= 1.2.3", true},
	{"1.2.3", " v1.2.3", true},
	{"1.2.3", " =1.2.3", true},
	{"1.2.3", " v 1.2.3", true},
	{"1.2.3", " = 1.2.3", true},
	{"1.2.3-0", "v1.2.3-0", true},
	{"1.2.3-0", "=1.2.3-0", true},
	{"1.2.3-0", "v 1.2.3-0", true},
	{"1.2.3-0", "= 1.2.3-0", true},
	{"1.2.3-0", " v1.2.3-0", true},
	{"1.2.3-0", " =1.2.3-0", true},
	{"1.2.3-0", " v 1.2.3-0", true},
	{"1.2.3-0", " = 1.2.3-0", true},
	{"1.2.3-1", "v1.2.3-1", true},
	{"1.2.3-1", "=1.2.3-1", true},
	{"1.2.3-1", "v 1.2.3-1", true},
	{"1.2.3-1", "= 1.2.3-1", true},
	{"1.2.3-1", " v1.2.3-1", true},
	{"1.2.3-1", " =1.2.3-1", true},
	{"1.2.3-1", " v 1.2.3-1", true},
	{"1.2.3-1", " = 1.2.3-1", true},
	{"1.2.3-beta", "v1.2.3-beta", true},
	{"1.2.3-beta", "=1.2.3-beta", true},
	{"1.2.3-beta", "v 1.2.3-beta", true},
	{"1.2.3-beta", "= 1.2.3-beta", true},
	{"1.2.3-beta", " v1.2.3-beta", true},
	{"1.2.3-beta", " =1.2.3-beta", true},
	{"1.2.3-beta", " v 1.2.3-beta", true},
	{"1.2.3-beta", " = 1.2.3-beta", true},
	{"1.2.3-beta+build", " = 1.2.3-beta+otherbuild", true},
	{"1.2.3+build", " = 1.2.3+otherbuild", true},
	{"1.2.3-beta+build", "1.2.3-beta+otherbuild", false},
	{"1.2.3+build", "1.2.3+otherbuild", false},
	{"  v1.2.3+build", "1.2.3+otherbuild", false},
}

func TestCompareFixtures(t *testing.T) {
	for _, tc := range comparisons {
		a, b := mustParse(t, tc.greater, tc.loose), mustParse(t, tc.lesser, tc.loose)
		if got := Compare(a, b); got != 1 {
			t.Errorf("Compare(%q, %q) = %d, want 1", tc.greater, tc.lesser, got)
		}
		if got := Compare(b, a); got != -1 {
			t.Errorf("Compare(%q, %q) = %d, want -1", tc.lesser, tc.greater, got)
		}
		if got := Compare(a, a); got != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", tc.greater, tc.greater, got)
		}
	}
	for _, tc := range equalities {
		a, b := mustParse(t, tc.a, tc.loose), mustParse(t, tc.b, tc.loose)
		if got := Compare(a, b); got != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", tc.a, tc.b, got)
		}
	}
}

func TestCompareOrder(t *testing.T) {
	// Ascending: numeric identifiers below alphanumeric ones and compared
	// by value at any length, a longer list above its prefix, a release
	// above its pre-releases.
	ordered := []string{
		"0.9.9",
		"1.0.0-0",
		"1.0.0-0.0",
		"1.0.0-0.a",
		"1.0.0-2",
		"1.0.0-10",
		"1.0.0-99999999999999999998",
		"1.0.0-99999999999999999999",
		"1.0.0--",
		"1.0.0-A",
		"1.0.0-a",
		"1.0.0-a.0",
		"1.0.0",
		"1.0.1",
		"1.9.0",
		"1.10.0",
		"10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			a, b := mustParse(t, ordered[i], false), mustParse(t, ordered[j], false)
			if got, want := Compare(a, b), cmp.Compare(i, j); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	versions := make([]*Version, len(ordered))
	for i, v := range ordered {
		versions[i] = mustParse(t, v, false)
	}
	rand.Shuffle(len(versions), func(i, j int) { versions[i], versions[j] = versions[j], versions[i] })
	if got := slices.MaxFunc(versions, Compare); got.String() != "10.0.0" {
		t.Errorf("highest = %s, want 10.0.0", got)
	}
	if a, b := mustParse(t, "1.2.3-007", true), mustParse(t, "1.2.3-7", false); Compare(a, b) != 0 {
		t.Errorf("loose 1.2.3-007 and 1.2.3-7 differ")
	}
}
