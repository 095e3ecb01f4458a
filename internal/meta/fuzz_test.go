package meta

import "testing"

// fuzzContexts are the contexts fuzzed rules and templates are applied to.
var fuzzContexts = []string{"event_push_dev.env", "event_tag_v2.0.8-beta.67.env", "event_pull_request.env", "event_schedule.env", "event_null.env"}

// FuzzParseTagRule checks that any rule string parses or fails with an
// input error, and that a parsed rule computes without panicking.
func FuzzParseTagRule(f *testing.F) {
	for _, c := range upstreamCases {
		for _, tag := range c.in.Tags {
			f.Add(tag)
		}
	}
	for _, c := range tagParseCases {
		f.Add(c.in)
	}
	for _, r := range DefaultTagRules {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		spec, err := Parse(Inputs{Tags: []string{rule}, Images: []string{"user/app"}})
		if err != nil {
			if !isInputError(err) {
				t.Fatalf("Parse(%q) = %v, not an input error", rule, err)
			}
			return
		}
		for _, env := range fuzzContexts {
			if _, err := spec.Compute(fixture(t, env), testNow); err != nil && !isInputError(err) {
				t.Fatalf("Compute(%q) = %v, not an input error", rule, err)
			}
		}
	})
}

// FuzzTemplate checks templates in every position metadata-action renders
// them: raw values, semver and pep440 patterns, schedule patterns, labels.
func FuzzTemplate(f *testing.F) {
	seeds := []string{
		"{{branch}}", "{{tag}}-{{sha}}", "{{base_ref}}", "{{is_default_branch}}", "{{is_not_default_branch}}",
		"{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", "{{commit_date 'YYYY-MM-DDTHH:mm:ss.SSS[Z]'}}",
		"{{commit_date YYYY-MM-DD}}", "{{date 'dddd, MMMM Do YYYY, h:mm:ss a'}}", "{{date 'wo Wo gggg GGGG X x Z ZZ z'}}",
		"{{version}}", "{{major}}.{{minor}}.{{patch}}", "{{raw}}", "{{{raw}}}", "{{prerelease}}", "{{options.loose}}",
		"{{! c }}", "{{~branch~}}", `\{{x}}`, "{{lookup this 'x'}}", "{{date 'YYYY' tz=5}}", "{{#if}}", "{{",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		if tm, err := parseTemplate(tmpl); err == nil {
			_, _ = tm.render(map[string]any{"date": dateHelper("date", testNow), "x": []any{"a", nil, 1.5}})
		}
		inputs := []Inputs{
			{Tags: []string{"type=raw,value=" + tmpl}},
			{Tags: []string{"type=semver,pattern=" + tmpl}},
			{Tags: []string{"type=pep440,pattern=" + tmpl}},
			{Tags: []string{"type=schedule,pattern=" + tmpl}},
			{Tags: []string{"type=sha"}, Labels: []string{"k=" + tmpl}, Flavor: []string{"prefix=" + tmpl}},
		}
		for _, in := range inputs {
			spec, err := Parse(in)
			if err != nil {
				if !isInputError(err) {
					t.Fatalf("Parse(%+v) = %v, not an input error", in, err)
				}
				continue
			}
			for _, env := range fuzzContexts {
				if _, err := spec.Compute(fixture(t, env), testNow); err != nil && !isInputError(err) {
					t.Fatalf("Compute(%+v) = %v, not an input error", in, err)
				}
			}
		}
	})
}
