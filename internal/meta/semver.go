package meta

import "github.com/slipway-ci/slipway/internal/semver"

// metadata-action reads versions with node-semver (ported in
// internal/semver): semver.valid and semver.prerelease parse strictly,
// the pattern is then rendered against semver.parse(v, {loose: true}).

// semverTemplateContext is the SemVer object v as Handlebars sees it: its
// own properties (prototype methods are not reachable in Handlebars
// 4.6+), numeric pre-release identifiers as numbers.
func semverTemplateContext(v *semver.Version) map[string]any {
	prerelease := make([]any, len(v.Prerelease))
	for i, id := range v.Prerelease {
		prerelease[i] = id
		if n, ok := semver.NumericID(id); ok {
			prerelease[i] = float64(n)
		}
	}
	build := make([]any, len(v.Build))
	for i, b := range v.Build {
		build[i] = b
	}
	return map[string]any{
		"options":           map[string]any{"loose": v.Loose},
		"loose":             v.Loose,
		"includePrerelease": false,
		"raw":               v.Raw,
		"major":             float64(v.Major),
		"minor":             float64(v.Minor),
		"patch":             float64(v.Patch),
		"prerelease":        prerelease,
		"build":             build,
		"version":           v.String(),
	}
}
