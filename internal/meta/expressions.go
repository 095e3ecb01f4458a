package meta

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // {{date ... tz='Asia/Tokyo'}} must work without system zoneinfo
)

// This file holds the contexts metadata-action renders its templates
// with: the global expressions of meta.ts setGlobalExp and the date
// helpers of schedule patterns.

// Git ref prefixes.
const (
	refHeads = "refs/heads/"
	refTags  = "refs/tags/"
	refPull  = "refs/pull/"
)

// constHelper is a helper that returns v whatever its arguments.
func constHelper(v any) helper {
	return func([]any, []hashArg) (any, error) { return v, nil }
}

func jsBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// globalContext is the context of global expressions ({{branch}},
// {{tag}}, {{sha}}, {{base_ref}}, {{is_default_branch}},
// {{is_not_default_branch}}, {{date}}, {{commit_date}}). builtin adds
// the expressions of slipway's default rules.
func (ev *evaluation) globalContext(builtin bool) map[string]any {
	branch, _ := strings.CutPrefix(ev.ref, refHeads)
	if !strings.HasPrefix(ev.ref, refHeads) {
		branch = ""
	}
	tag, _ := strings.CutPrefix(ev.ref, refTags)
	if !strings.HasPrefix(ev.ref, refTags) {
		tag = ""
	}
	isDefault := ev.isDefaultBranch()
	ctx := map[string]any{
		"branch":                constHelper(branch),
		"tag":                   constHelper(tag),
		"sha":                   constHelper(ev.shortSHA()),
		"base_ref":              constHelper(ev.baseRef()),
		"is_default_branch":     constHelper(jsBool(isDefault)),
		"is_not_default_branch": constHelper(jsBool(!isDefault)),
		"date":                  dateHelper("date", ev.now),
		"commit_date":           dateHelper("commit_date", ev.commitDate),
	}
	if builtin {
		ev.defaultRuleExpressions(ctx)
	}
	return ctx
}

// scheduleContext is the context of a schedule rule's pattern.
func (ev *evaluation) scheduleContext() map[string]any {
	return map[string]any{
		"date":        dateHelper("date", ev.now),
		"commit_date": dateHelper("commit_date", ev.commitDate),
	}
}

// baseRef is {{base_ref}}: the branch a tag was pushed from (when the
// payload says) or the target branch of a pull request.
func (ev *evaluation) baseRef() string {
	switch {
	case strings.HasPrefix(ev.ref, refTags) && ev.ctx.BaseRef != "":
		return strings.TrimPrefix(ev.ctx.BaseRef, refHeads)
	case strings.HasPrefix(ev.ref, refPull):
		return ev.ctx.BaseRef
	}
	return ""
}

// isDefaultBranch is {{is_default_branch}}. Like metadata-action it
// compares the ref with refs/heads/ removed to the default branch, and
// is always true for create, discussion, issues and schedule events,
// which run on the default branch.
func (ev *evaluation) isDefaultBranch() bool {
	branch := strings.TrimPrefix(ev.ref, refHeads)
	if branch == "" {
		return false
	}
	if ev.ctx.Repository.DefaultBranch == branch {
		return true
	}
	for _, e := range []string{"create", "discussion", "issues", "schedule"} {
		if strings.Contains(ev.eventName, e) {
			return true
		}
	}
	return false
}

// dateHelper is the {{date 'format' tz='Zone'}} helper for time t.
func dateHelper(name string, t time.Time) helper {
	return func(params []any, hash []hashArg) (any, error) {
		if len(params) == 0 {
			return nil, fmt.Errorf("{{%s}} needs a format, e.g. {{%s 'YYYYMMDD'}}", name, name)
		}
		format := ""
		switch f := params[0].(type) {
		case string:
			format = f
		case nil:
		default:
			if jsString(f) != "false" && jsString(f) != "0" {
				return nil, fmt.Errorf("{{%s}}: format must be a string", name)
			}
		}
		loc := time.UTC
		for _, h := range hash {
			if h.key != "tz" {
				return nil, fmt.Errorf("{{%s}}: unknown %s attribute (expected tz)", name, h.key)
			}
			zone, ok := h.value.(string)
			if !ok || zone == "" || zone == "Local" {
				return nil, fmt.Errorf("{{%s}}: tz must be a time zone name such as 'Europe/Paris'", name)
			}
			var err error
			if loc, err = time.LoadLocation(zone); err != nil {
				return nil, fmt.Errorf("{{%s}}: unknown time zone %q", name, zone)
			}
		}
		return momentFormat(t.In(loc), format), nil
	}
}

// errNotBool is returned when an enable expression is not true or false.
var errNotBool = errors.New("expected true or false")
