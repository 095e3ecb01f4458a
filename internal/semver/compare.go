package semver

import (
	"cmp"
	"strings"
)

// Compare orders a and b by precedence (semver 2.0.0 §11, node-semver's
// compare): -1, 0 or +1. Major, minor and patch compare numerically; a
// release ranks above its pre-releases; pre-release identifiers compare
// one by one, numeric ones numerically and below alphanumeric ones,
// alphanumeric ones in ASCII order, and a longer list ranks above its
// prefix. Build metadata does not count.
//
// Numeric identifiers compare exactly at any length, where node-semver
// compares those beyond Number.MAX_SAFE_INTEGER as rounded doubles.
func Compare(a, b *Version) int {
	if c := cmp.Compare(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Minor, b.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Patch, b.Patch); c != 0 {
		return c
	}
	return comparePrerelease(a.Prerelease, b.Prerelease)
}

// comparePrerelease is SemVer#comparePre.
func comparePrerelease(a, b []string) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareIdentifiers(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// compareIdentifiers is node-semver's compareIdentifiers.
func compareIdentifiers(a, b string) int {
	an, bn := isDigits(a), isDigits(b)
	switch {
	case an && bn:
		return compareNumeric(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// compareNumeric orders two strings of digits by value, at any length.
func compareNumeric(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
