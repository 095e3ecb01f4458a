package meta

import (
	"regexp"
	"strconv"
	"strings"
)

// This file ports the parser of node-semver 7 (classes/semver.js and the
// FULL/LOOSE expressions of internal/re.js) as metadata-action uses it:
// semver.valid and semver.prerelease parse strictly, the pattern is then
// rendered against semver.parse(v, {loose: true}).

const (
	semverMaxLength       = 256              // MAX_LENGTH
	semverMaxSafeInteger  = 9007199254740991 // Number.MAX_SAFE_INTEGER
	semverNumericID       = `0|[1-9]\d*`
	semverNumericIDLoose  = `[0-9]+`
	semverNonNumericID    = `\d*[a-zA-Z-][a-zA-Z0-9-]*`
	semverPrereleaseID    = `(?:` + semverNonNumericID + `|` + semverNumericID + `)`
	semverPrereleaseIDLse = `(?:` + semverNonNumericID + `|` + semverNumericIDLoose + `)`
	semverBuildID         = `[0-9A-Za-z-]+`
	semverBuild           = `(?:\+(` + semverBuildID + `(?:\.` + semverBuildID + `)*))`
)

var (
	// FULL: ^v?MAINVERSION PRERELEASE? BUILD?$
	semverFull = regexp.MustCompile(`^v?(` + semverNumericID + `)\.(` + semverNumericID + `)\.(` + semverNumericID + `)` +
		`(?:-(` + semverPrereleaseID + `(?:\.` + semverPrereleaseID + `)*))?` + semverBuild + `?$`)
	// LOOSE: ^[v=\s]*MAINVERSIONLOOSE PRERELEASELOOSE? BUILD?$
	semverLoose = regexp.MustCompile(`^[v=\s]*(` + semverNumericIDLoose + `)\.(` + semverNumericIDLoose + `)\.(` + semverNumericIDLoose + `)` +
		`(?:-?(` + semverPrereleaseIDLse + `(?:\.` + semverPrereleaseIDLse + `)*))?` + semverBuild + `?$`)
	semverAllDigits = regexp.MustCompile(`^[0-9]+$`)
)

// semVer is node-semver's SemVer object: the fields a pattern template can
// reach.
type semVer struct {
	raw        string // the input, untrimmed
	major      uint64
	minor      uint64
	patch      uint64
	prerelease []any // numbers (float64) and strings
	build      []string
	loose      bool
}

// parseSemver is semver.parse(version, {loose}): nil when version is not a
// valid semantic version.
func parseSemver(version string, loose bool) *semVer {
	if len(version) > semverMaxLength {
		return nil
	}
	re := semverFull
	if loose {
		re = semverLoose
	}
	m := re.FindStringSubmatch(jsTrim(version))
	if m == nil {
		return nil
	}
	v := &semVer{raw: version, loose: loose, build: []string{}, prerelease: []any{}}
	for i, dst := range []*uint64{&v.major, &v.minor, &v.patch} {
		n, ok := safeInteger(m[i+1])
		if !ok {
			return nil // "Invalid major/minor/patch version"
		}
		*dst = n
	}
	if m[4] != "" {
		for _, id := range strings.Split(m[4], ".") {
			if semverAllDigits.MatchString(id) {
				if n, ok := safeInteger(id); ok && n < semverMaxSafeInteger {
					v.prerelease = append(v.prerelease, float64(n))
					continue
				}
			}
			v.prerelease = append(v.prerelease, id)
		}
	}
	if m[5] != "" {
		v.build = strings.Split(m[5], ".")
	}
	return v
}

// safeInteger converts a digit string as `+digits` does, failing where the
// result would exceed Number.MAX_SAFE_INTEGER.
func safeInteger(digits string) (uint64, bool) {
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > semverMaxSafeInteger {
		return 0, false
	}
	return n, true
}

// version is SemVer#format(): major.minor.patch[-prerelease].
func (v *semVer) version() string {
	s := strconv.FormatUint(v.major, 10) + "." + strconv.FormatUint(v.minor, 10) + "." + strconv.FormatUint(v.patch, 10)
	if len(v.prerelease) > 0 {
		s += "-" + strings.ReplaceAll(jsString(v.prerelease), ",", ".")
	}
	return s
}

// semverValid is semver.valid(v) != null.
func semverValid(v string) bool { return parseSemver(v, false) != nil }

// semverIsPrerelease is semver.prerelease(v) != null for a valid v.
func semverIsPrerelease(v string) bool {
	p := parseSemver(v, false)
	return p != nil && len(p.prerelease) > 0
}

// templateContext is the SemVer object as Handlebars sees it: its own
// properties (prototype methods are not reachable in Handlebars 4.6+).
func (v *semVer) templateContext() map[string]any {
	build := make([]any, len(v.build))
	for i, b := range v.build {
		build[i] = b
	}
	return map[string]any{
		"options":           map[string]any{"loose": v.loose},
		"loose":             v.loose,
		"includePrerelease": false,
		"raw":               v.raw,
		"major":             float64(v.major),
		"minor":             float64(v.minor),
		"patch":             float64(v.patch),
		"prerelease":        v.prerelease,
		"build":             build,
		"version":           v.version(),
	}
}
