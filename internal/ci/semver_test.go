package ci

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCompareTagsOrder(t *testing.T) {
	// Ascending; the semver part follows the example in semver.org §11.
	ordered := []string{
		"latest",
		"nightly",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"v1.0.0+build.5", // equal precedence to 1.0.0, after it in string order
		"v1.0.1",
		"1.2.0",
		"v1.10.0",
		"v10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			if got, want := compareTags(ordered[i], ordered[j]), cmpInt(i, j); got != want {
				t.Errorf("compareTags(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	shuffled := slices.Clone(ordered)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := highestTag(shuffled); got != "v10.0.0" {
		t.Errorf("highestTag = %q, want v10.0.0", got)
	}
}

func TestParseSemverRejects(t *testing.T) {
	for _, v := range []string{"1.0", "1.0.0.0", "v1.x.0", "1.0.0-", "1.0.0-a..b", "1.0.0-a_b", "release-1", ""} {
		if _, ok := parseSemver(v); ok {
			t.Errorf("parseSemver(%q) accepted it", v)
		}
	}
}

func TestHighestTagEmpty(t *testing.T) {
	if got := highestTag(nil); got != "" {
		t.Errorf("highestTag(nil) = %q", got)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
