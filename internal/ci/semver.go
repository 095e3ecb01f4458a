package ci

import (
	"cmp"
	"slices"
	"strings"
)

// semver is a parsed semantic version (https://semver.org), with an
// optional "v" prefix; build metadata is dropped, as it has no precedence.
type semver struct {
	core [3]string // major, minor, patch: digits only
	pre  []string  // pre-release identifiers, nil for a release
}

// parseSemver parses v, reporting whether it is a semantic version.
func parseSemver(v string) (semver, bool) {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	var s semver
	for i, p := range parts {
		if !isNumeric(p) {
			return semver{}, false
		}
		s.core[i] = p
	}
	if hasPre {
		s.pre = strings.Split(pre, ".")
		for _, id := range s.pre {
			if id == "" || strings.IndexFunc(id, notIdentRune) >= 0 {
				return semver{}, false
			}
		}
	}
	return s, true
}

// compare orders a and b by semver precedence.
func (a semver) compare(b semver) int {
	for i := range a.core {
		if c := compareNumeric(a.core[i], b.core[i]); c != 0 {
			return c
		}
	}
	// A release ranks above its pre-releases.
	switch {
	case a.pre == nil && b.pre == nil:
		return 0
	case a.pre == nil:
		return 1
	case b.pre == nil:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		if c := compareIdent(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.pre), len(b.pre))
}

// compareIdent orders two pre-release identifiers: numeric ones
// numerically and below alphanumeric ones, alphanumeric ones in ASCII order.
func compareIdent(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
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

func isNumeric(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// notIdentRune reports whether r may not appear in a pre-release
// identifier, whose characters are [0-9A-Za-z-].
func notIdentRune(r rune) bool {
	ident := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-'
	return !ident
}

// compareTags orders tag names: semantic versions by precedence and above
// every other name; equal precedence, and two other names, in string order.
func compareTags(a, b string) int {
	sa, aok := parseSemver(a)
	sb, bok := parseSemver(b)
	switch {
	case aok && bok:
		if c := sa.compare(sb); c != 0 {
			return c
		}
	case aok:
		return 1
	case bok:
		return -1
	}
	return strings.Compare(a, b)
}

// highestTag returns the greatest of tags by compareTags, "" for none.
func highestTag(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return slices.MaxFunc(tags, compareTags)
}
