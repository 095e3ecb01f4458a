// Package semver parses and orders semantic versions
// (https://semver.org) as node-semver 7 does: Parse ports the parser of
// classes/semver.js with the FULL and LOOSE expressions of internal/re.js,
// Compare ports SemVer#compare.
package semver

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/internal/jsstring"
)

const (
	maxLength       = 256              // MAX_LENGTH
	maxSafeInteger  = 9007199254740991 // Number.MAX_SAFE_INTEGER
	numericID       = `0|[1-9]\d*`
	numericIDLoose  = `[0-9]+`
	nonNumericID    = `\d*[a-zA-Z-][a-zA-Z0-9-]*`
	prereleaseID    = `(?:` + nonNumericID + `|` + numericID + `)`
	prereleaseIDLse = `(?:` + nonNumericID + `|` + numericIDLoose + `)`
	buildID         = `[0-9A-Za-z-]+`
	build           = `(?:\+(` + buildID + `(?:\.` + buildID + `)*))`
)

var (
	// FULL: ^v?MAINVERSION PRERELEASE? BUILD?$
	full = regexp.MustCompile(`^v?(` + numericID + `)\.(` + numericID + `)\.(` + numericID + `)` +
		`(?:-(` + prereleaseID + `(?:\.` + prereleaseID + `)*))?` + build + `?$`)
	// LOOSE: ^[v=\s]*MAINVERSIONLOOSE PRERELEASELOOSE? BUILD?$
	loose = regexp.MustCompile(`^[v=\s]*(` + numericIDLoose + `)\.(` + numericIDLoose + `)\.(` + numericIDLoose + `)` +
		`(?:-?(` + prereleaseIDLse + `(?:\.` + prereleaseIDLse + `)*))?` + build + `?$`)
)

// ErrInvalid is the error Parse wraps for a string that is not a
// semantic version.
var ErrInvalid = errors.New("invalid semantic version")

// Version is a parsed semantic version: node-semver's SemVer object.
type Version struct {
	Raw                 string // the input, untrimmed
	Major, Minor, Patch uint64
	// Prerelease holds the pre-release identifiers as written; see
	// NumericID for the ones node-semver stores as numbers.
	Prerelease []string
	Build      []string // build metadata identifiers
	Loose      bool     // parsed in loose mode
}

// Parse is semver.parse(v, {loose}): v, trimmed, is a version with an
// optional "v" prefix (strict mode), or in loose mode any run of "v",
// "=" and blanks before it, leading zeros and a pre-release without its
// "-" ("1.2.3beta"). Parse fails, wrapping ErrInvalid, where node-semver
// returns null.
func Parse(v string, looseMode bool) (*Version, error) {
	if len(v) > maxLength {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrInvalid, maxLength)
	}
	re := full
	if looseMode {
		re = loose
	}
	m := re.FindStringSubmatch(jsstring.Trim(v))
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrInvalid, v)
	}
	ver := &Version{Raw: v, Loose: looseMode, Prerelease: []string{}, Build: []string{}}
	for i, dst := range []*uint64{&ver.Major, &ver.Minor, &ver.Patch} {
		n, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil || n > maxSafeInteger {
			return nil, fmt.Errorf("%w: %q: %s version above Number.MAX_SAFE_INTEGER", ErrInvalid, v, [...]string{"major", "minor", "patch"}[i])
		}
		*dst = n
	}
	if m[4] != "" {
		ver.Prerelease = strings.Split(m[4], ".")
	}
	if m[5] != "" {
		ver.Build = strings.Split(m[5], ".")
	}
	return ver, nil
}

// NumericID reports whether node-semver stores the pre-release
// identifier id as a number (digits only, below Number.MAX_SAFE_INTEGER),
// and returns that number.
func NumericID(id string) (uint64, bool) {
	if !isDigits(id) {
		return 0, false
	}
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n >= maxSafeInteger {
		return 0, false
	}
	return n, true
}

// IsPrerelease reports whether v has pre-release identifiers
// (semver.prerelease(v) != null).
func (v *Version) IsPrerelease() bool { return len(v.Prerelease) > 0 }

// String is SemVer#format(): major.minor.patch[-prerelease], with numeric
// pre-release identifiers written as numbers (loose "1.2.3-007" is
// "1.2.3-7").
func (v *Version) String() string {
	s := strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
	if len(v.Prerelease) == 0 {
		return s
	}
	ids := make([]string, len(v.Prerelease))
	for i, id := range v.Prerelease {
		ids[i] = id
		if n, ok := NumericID(id); ok {
			ids[i] = strconv.FormatUint(n, 10)
		}
	}
	return s + "-" + strings.Join(ids, ".")
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}
