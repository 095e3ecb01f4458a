package meta

import (
	"slices"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci"
)

// TestDefaultTagRules covers slipway's defaults (an empty tags input).
func TestDefaultTagRules(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	repo := ci.Repository{Name: "acme/app", URL: "https://github.com/acme/app", DefaultBranch: "main"}
	tests := []struct {
		name string
		ctx  ci.Context
		want []string // tag names
		ver  Version
	}{
		{"push to main", ci.Context{EventName: "push", Ref: "refs/heads/main", SHA: sha},
			[]string{"main", "sha-0123456"}, Version{"main", []string{"sha-0123456"}, false}},
		{"push to feature branch", ci.Context{EventName: "push", Ref: "refs/heads/feature/x", SHA: sha},
			[]string{"feature-x", "sha-0123456"}, Version{"feature-x", []string{"sha-0123456"}, false}},
		{"semver tag v1.2.3", ci.Context{EventName: "push", Ref: "refs/tags/v1.2.3", SHA: sha},
			[]string{"1.2.3", "1.2", "1", "sha-0123456", "latest"}, Version{"1.2.3", []string{"1.2", "1", "sha-0123456"}, true}},
		{"semver tag v0.4.1", ci.Context{EventName: "push", Ref: "refs/tags/v0.4.1", SHA: sha},
			[]string{"0.4.1", "0.4", "sha-0123456", "latest"}, Version{"0.4.1", []string{"0.4", "sha-0123456"}, true}},
		{"pre-release v2.0.0-rc.1", ci.Context{EventName: "push", Ref: "refs/tags/v2.0.0-rc.1", SHA: sha},
			[]string{"2.0.0-rc.1", "sha-0123456"}, Version{"2.0.0-rc.1", []string{"sha-0123456"}, false}},
		{"non-semver tag", ci.Context{EventName: "push", Ref: "refs/tags/release-2024", SHA: sha},
			[]string{"release-2024", "sha-0123456", "latest"}, Version{"release-2024", []string{"sha-0123456"}, true}},
		{"pull request", ci.Context{EventName: "pull_request", Ref: "refs/pull/42/merge", SHA: sha, PRNumber: 42},
			[]string{"pr-42", "sha-0123456"}, Version{"pr-42", []string{"sha-0123456"}, false}},
		{"schedule", ci.Context{EventName: "schedule", Ref: "refs/heads/main", SHA: sha},
			[]string{"nightly", "main", "sha-0123456"}, Version{"nightly", []string{"main", "sha-0123456"}, false}},
	}
	spec, err := Parse(Inputs{Images: []string{"ghcr.io/Acme/App"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ctx.Repository = repo
			res, err := spec.Compute(&tt.ctx, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.TagNames, tt.want) {
				t.Errorf("tag names = %q, want %q", res.TagNames, tt.want)
			}
			if res.Version.Main != tt.ver.Main || !slices.Equal(res.Version.Partial, tt.ver.Partial) || res.Version.Latest != tt.ver.Latest {
				t.Errorf("version = %+v, want %+v", res.Version, tt.ver)
			}
			if len(res.Tags) == 0 || res.Tags[0] != "ghcr.io/acme/app:"+tt.want[0] {
				t.Errorf("tags = %q", res.Tags)
			}
		})
	}
}

// TestDefaultRuleExpressionsAreBuiltinOnly checks that the expressions of
// DefaultTagRules are not part of metadata-action's language.
func TestDefaultRuleExpressionsAreBuiltinOnly(t *testing.T) {
	spec, err := Parse(Inputs{Tags: []string{"type=raw,value=x,enable={{is_not_semver_tag}}"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = spec.Compute(&ci.Context{EventName: "push", Ref: "refs/heads/main"}, testNow)
	if err == nil || !isInputError(err) {
		t.Errorf("Compute = %v, want an input error (enable renders empty)", err)
	}
}
