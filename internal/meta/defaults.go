package meta

import (
	"strings"

	"github.com/slipway-ci/slipway/internal/semver"
)

// DefaultTagRules are the tag rules slipway uses when the tags input is
// empty. They replace metadata-action's defaults (type=schedule and
// type=ref for branch, tag and pr) and give:
//
//   - sha-<short sha> on every build;
//   - on a semver tag v1.2.3: 1.2.3, 1.2 and 1 (no 0 for 0.x versions,
//     and only the full version for a pre-release) and latest;
//   - the tag itself for a tag that is not semver (and latest);
//   - the branch name on branch pushes, pr-<n> on pull requests and
//     nightly on schedules.
//
// `latest` follows metadata-action's latest=auto rule. Two expressions
// exist only in these rules: {{is_not_semver_tag}} ("true" unless the
// ref is a tag that is a valid semantic version) and
// {{is_not_major_zero}} ("false" when the ref is a semver tag with major
// version 0).
var DefaultTagRules = []string{
	"type=schedule,pattern=nightly",
	"type=semver,pattern={{version}}",
	"type=semver,pattern={{major}}.{{minor}}",
	"type=semver,pattern={{major}},enable={{is_not_major_zero}}",
	"type=ref,event=tag,enable={{is_not_semver_tag}}",
	"type=ref,event=branch",
	"type=ref,event=pr",
	"type=sha",
}

// defaultRuleExpressions adds the expressions of DefaultTagRules to a
// global expression context.
func (ev *evaluation) defaultRuleExpressions(ctx map[string]any) {
	semverTag := func() *semver.Version {
		tag, ok := strings.CutPrefix(ev.ref, refTags)
		if !ok {
			return nil
		}
		v, err := semver.Parse(strings.ReplaceAll(tag, "/", "-"), false)
		if err != nil {
			return nil
		}
		return v
	}
	ctx["is_not_semver_tag"] = constHelper(jsBool(semverTag() == nil))
	ctx["is_not_major_zero"] = constHelper(jsBool(func() bool {
		v := semverTag()
		return v == nil || v.Major != 0
	}()))
}
