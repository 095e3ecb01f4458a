package meta

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/semver"
)

// This file ports the version computation of src/meta.ts: every enabled
// rule, in priority order, may add a tag; the first tag is the version
// and decides `latest`.

// Version is the computed version: the first tag, the other tags, and
// whether `latest` is added.
type Version struct {
	Main    string   `json:"main"`
	Partial []string `json:"partial"`
	Latest  bool     `json:"latest"`
}

// evaluation is one application of a Spec to a CI context.
type evaluation struct {
	spec       *Spec
	ctx        *ci.Context
	eventName  string
	ref        string // the ref, refs/pull/<n>/merge for pull_request_target
	sha        string // the commit, the PR head with PRHeadSHA
	now        time.Time
	commitDate time.Time
	warnings   []string
}

func newEvaluation(s *Spec, c *ci.Context, now time.Time) *evaluation {
	ev := &evaluation{spec: s, ctx: c, eventName: c.EventName, ref: c.Ref, sha: c.SHA, now: now, commitDate: c.CommitDate}
	// context.ts: pull_request_target runs on the base branch; use the
	// PR's ref instead.
	if strings.Contains(c.EventName, "pull_request_target") && c.PRNumber > 0 {
		ev.ref = fmt.Sprintf("refs/pull/%d/merge", c.PRNumber)
	}
	if s.prHeadSHA && strings.Contains(c.EventName, "pull_request") && c.PRHeadSHA != "" {
		ev.sha = c.PRHeadSHA
	}
	if ev.commitDate.IsZero() { // context.ts falls back to the current date
		ev.commitDate = now
	}
	return ev
}

func (ev *evaluation) warnf(format string, args ...any) {
	ev.warnings = append(ev.warnings, fmt.Sprintf(format, args...))
}

// shortSHA is the commit shortened to DOCKER_METADATA_SHORT_SHA_LENGTH.
func (ev *evaluation) shortSHA() string {
	if ev.spec.shortSHALength >= len(ev.sha) {
		return ev.sha
	}
	return ev.sha[:ev.spec.shortSHALength]
}

// version applies the rules (meta.ts getVersion).
func (ev *evaluation) version() (Version, error) {
	v := &versionBuilder{}
	for _, r := range ev.spec.rules {
		if err := ev.applyRule(v, r); err != nil {
			var ie *errs.InputError
			if errors.As(err, &ie) {
				return Version{}, err
			}
			return Version{}, errs.WrapInput("tags", err, "tag rule %q", r.source)
		}
	}
	out := Version{Main: v.main, Partial: []string{}, Latest: v.latest != nil && *v.latest}
	for _, p := range v.partial {
		if !slices.Contains(out.Partial, p) {
			out.Partial = append(out.Partial, p)
		}
	}
	return out, nil
}

// versionBuilder accumulates tags as meta.ts setVersion does.
type versionBuilder struct {
	main    string
	partial []string
	latest  *bool // decided by the first tag
}

// add is setVersion: empty values are ignored, values are sanitised, the
// first one is the main version.
func (v *versionBuilder) add(val string, latest bool) {
	if val == "" {
		return
	}
	val = sanitizeTag(val)
	if v.main == "" {
		v.main = val
	} else if val != v.main {
		v.partial = append(v.partial, val)
	}
	if v.latest == nil {
		v.latest = &latest
	}
}

var invalidTagChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// sanitizeTag replaces each run of characters not allowed in a tag with
// "-". Like metadata-action it does not enforce the 128 character limit.
func sanitizeTag(tag string) string { return invalidTagChars.ReplaceAllString(tag, "-") }

func (ev *evaluation) applyRule(v *versionBuilder, r *tagRule) error {
	enabled, err := ev.render(r.templates["enable"], r.builtin)
	if err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	if enabled != "true" && enabled != "false" {
		return fmt.Errorf("invalid value %q for enable attribute: %w", enabled, errNotBool)
	}
	if enabled == "false" {
		return nil
	}
	val, auto, ok, err := ev.ruleValue(r)
	if err != nil || !ok {
		return err
	}
	if val, err = ev.setValue(val, r); err != nil {
		return err
	}
	v.add(val, ev.spec.flavor.latestFor(auto))
	return nil
}

// ruleValue computes a rule's tag before prefix and suffix. ok is false
// when the rule does not apply; auto is whether latest=auto adds latest.
func (ev *evaluation) ruleValue(r *tagRule) (val string, auto, ok bool, err error) {
	switch r.typ {
	case typeSchedule:
		if !strings.Contains(ev.eventName, "schedule") {
			return "", false, false, nil
		}
		val, err = r.templates["pattern"].render(ev.scheduleContext())
		return val, false, err == nil, err
	case typeSemver:
		return ev.semverValue(r)
	case typePep440:
		return ev.pep440Value(r)
	case typeMatch:
		return ev.matchValue(r)
	case typeRef:
		switch r.attrs["event"] {
		case eventBranch:
			val, ok = strings.CutPrefix(ev.ref, refHeads)
			return val, false, ok, nil
		case eventTag:
			val, ok = strings.CutPrefix(ev.ref, refTags)
			return val, true, ok, nil
		default: // pr
			val, ok = strings.CutPrefix(ev.ref, refPull)
			return strings.TrimSuffix(val, "/merge"), false, ok, nil
		}
	case typeEdge:
		branch, isBranch := strings.CutPrefix(ev.ref, refHeads)
		want := r.attrs["branch"]
		if want == "" {
			want = ev.ctx.Repository.DefaultBranch
		}
		return "edge", false, isBranch && branch == want, nil
	case typeRaw:
		val, err = ev.render(r.templates["value"], r.builtin)
		return val, false, err == nil, err
	default: // sha
		if ev.sha == "" {
			return "", false, false, nil
		}
		val = ev.sha
		if r.attrs["format"] == formatShort {
			val = ev.shortSHA()
		}
		return val, false, true, nil
	}
}

// versionInput is the text a semver or pep440 rule parses: its value, or
// the tag, narrowed by the rule's match expression, with "/" as "-".
// ok is false when the rule does not apply.
func (ev *evaluation) versionInput(r *tagRule) (string, bool, error) {
	tag, isTag := strings.CutPrefix(ev.ref, refTags)
	if !isTag && r.attrs["value"] == "" {
		return "", false, nil
	}
	vraw := tag
	if r.attrs["value"] != "" {
		var err error
		if vraw, err = ev.render(r.templates["value"], r.builtin); err != nil {
			return "", false, err
		}
	}
	if r.regex != nil {
		groups, present := r.regex.match(vraw)
		if groups == nil {
			ev.warnf("%s does not match %s.", r.attrs["match"], vraw)
		} else if len(groups) < 2 || !present[1] {
			return "", false, fmt.Errorf("match %q did not capture group 1 of %q", r.attrs["match"], vraw)
		} else {
			vraw = groups[1]
		}
	}
	return strings.ReplaceAll(vraw, "/", "-"), true, nil
}

func (ev *evaluation) semverValue(r *tagRule) (string, bool, bool, error) {
	vraw, ok, err := ev.versionInput(r)
	if err != nil || !ok {
		return "", false, false, err
	}
	strict, err := semver.Parse(vraw, false)
	if err != nil {
		ev.warnf("%s is not a valid semver. More info: https://semver.org/", vraw)
		return "", false, false, nil
	}
	loose, err := semver.Parse(vraw, true)
	if err != nil { // not reached: a strict version parses loosely
		return "", false, false, fmt.Errorf("parsing %q loosely: %w", vraw, err)
	}
	sver := semverTemplateContext(loose)
	pattern := r.templates["pattern"]
	if strict.IsPrerelease() {
		if !pattern.isRawStatement() {
			return jsString(sver["version"]), false, true, nil // {{version}}
		}
		val, err := pattern.render(sver)
		return val, false, err == nil, err
	}
	val, err := pattern.render(sver)
	return val, true, err == nil, err
}

func (ev *evaluation) pep440Value(r *tagRule) (string, bool, bool, error) {
	vraw, ok, err := ev.versionInput(r)
	if err != nil || !ok {
		return "", false, false, err
	}
	if !pep440IsValid(vraw) {
		ev.warnf("%s does not conform to PEP 440. More info: https://www.python.org/dev/peps/pep-0440", vraw)
		return "", false, false, nil
	}
	pver, _ := pep440Explain(vraw)
	pattern := r.templates["pattern"]
	if pver.isPrerelease || pver.isPostrelease || pver.isDevrelease {
		if pattern.isRawStatement() {
			return vraw, false, true, nil
		}
		return pep440CleanVersion(vraw), false, true, nil
	}
	val, err := pattern.render(map[string]any{
		"raw":     constHelper(vraw),
		"version": constHelper(pep440CleanVersion(vraw)),
		"major":   constHelper(pver.segment(0)),
		"minor":   constHelper(pver.segment(1)),
		"patch":   constHelper(pver.segment(2)),
	})
	return val, true, err == nil, err
}

// arrayIndex matches the group strings that index a JavaScript array.
var arrayIndex = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

func (ev *evaluation) matchValue(r *tagRule) (string, bool, bool, error) {
	tag, isTag := strings.CutPrefix(ev.ref, refTags)
	if !isTag && r.attrs["value"] == "" {
		return "", false, false, nil
	}
	vraw := tag
	if r.attrs["value"] != "" {
		var err error
		if vraw, err = ev.render(r.templates["value"], r.builtin); err != nil {
			return "", false, false, err
		}
	}
	pattern, group := r.attrs["pattern"], r.attrs["group"]
	groups, present := r.regex.match(vraw)
	if groups == nil {
		ev.warnf("%s does not match %s.", pattern, vraw)
		return "", false, false, nil
	}
	var n int
	if !arrayIndex.MatchString(group) || len(group) > 6 {
		n = -1
	} else {
		fmt.Sscan(group, &n)
	}
	if n < 0 || n >= len(groups) || !present[n] {
		ev.warnf("Group %s does not exist for %s pattern.", group, pattern)
		return "", false, false, nil
	}
	return groups[n], true, true, nil
}

// setValue adds the rule's prefix and suffix, or the flavor's when the
// rule has none (meta.ts setValue). Both are global expressions.
func (ev *evaluation) setValue(val string, r *tagRule) (string, error) {
	affix := func(attr, flavorValue string, flavorTmpl *template) (string, error) {
		if t, ok := r.templates[attr]; ok {
			return ev.render(t, r.builtin)
		}
		if flavorValue == "" {
			return "", nil
		}
		s, err := ev.render(flavorTmpl, false)
		if err != nil {
			return "", errs.WrapInput("flavor", err, "%s %q", attr, flavorValue)
		}
		return s, nil
	}
	f := ev.spec.flavor
	prefix, err := affix("prefix", f.prefix, f.prefixTmpl)
	if err != nil {
		return "", err
	}
	suffix, err := affix("suffix", f.suffix, f.suffixTmpl)
	if err != nil {
		return "", err
	}
	return prefix + val + suffix, nil
}

// render renders a global expression template.
func (ev *evaluation) render(t *template, builtin bool) (string, error) {
	return t.render(ev.globalContext(builtin))
}
