// Package meta computes Docker image tags, OCI labels and annotations from
// a CI context. It is a Go port of docker/metadata-action's computation
// (src/meta.ts, src/tag.ts, src/flavor.ts, src/image.ts, src/annotation.ts
// and the input handling of src/context.ts and main.ts), ported case for
// case from the v5.x/v6 sources (meta.ts with annotation.ts, the semver
// `match` attribute and {{is_not_default_branch}}; package.json on
// node 24 / esbuild, semver ^7, moment-timezone, handlebars 4.7,
// @renovate/pep440 1.x). The upstream tests (meta.test.ts, tag.test.ts,
// flavor.test.ts) are ported in this package's tests under their upstream
// case names.
//
// The pieces of the JavaScript ecosystem metadata-action relies on are
// ported as well, each in its own file: @renovate/pep440 (pep440.go), the
// Handlebars subset the action's templates use (template.go), moment.js
// formatting (moment.go) and JavaScript regular expressions (jsregex.go).
// node-semver's parser and csv-parse's record splitting, which slipway's
// other packages share, are ported in internal/semver and internal/csvlist
// (semver.go and csv.go hold what metadata-action adds to them).
//
// # Differences from metadata-action
//
//   - When the tags input is empty, slipway uses DefaultTagRules instead
//     of metadata-action's defaults.
//   - The package never reads the environment: DOCKER_METADATA_* settings
//     and the current time are inputs.
//   - Inputs are validated up front by Parse. A few inputs that
//     metadata-action silently accepts are rejected: a non-numeric
//     `priority` (metadata-action sorts it unpredictably), an unknown
//     time zone in {{date}} (moment-timezone logs and keeps the runner's
//     zone) and JavaScript regular expression syntax that Go's RE2 engine
//     cannot express (lookaround, backreferences).
//   - Handlebars block helpers ({{#if}}...), partials and sub-expressions
//     are not supported in templates; using them is an input error.
//     metadata-action's templates never need them.
//   - Labels are sorted with an approximation of ICU's root collation
//     (JavaScript's localeCompare) that is exact for ASCII keys.
package meta
