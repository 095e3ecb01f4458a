package meta

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// This file ports src/tag.ts: parsing the entries of the `tags` input
// into rules, their defaults and their priority order.

// tagType is a rule's `type` attribute.
type tagType string

const (
	typeSchedule tagType = "schedule"
	typeSemver   tagType = "semver"
	typePep440   tagType = "pep440"
	typeMatch    tagType = "match"
	typeEdge     tagType = "edge"
	typeRef      tagType = "ref"
	typeRaw      tagType = "raw"
	typeSha      tagType = "sha"
)

// tagTypes lists the types in the order error messages name them.
var tagTypes = []tagType{typeSchedule, typeSemver, typePep440, typeMatch, typeEdge, typeRef, typeRaw, typeSha}

// DefaultPriorities are metadata-action's default `priority` per rule
// type: higher priorities come first in the tag list, and the first tag
// is the version.
var DefaultPriorities = map[string]int{
	"schedule": 1000,
	"semver":   900,
	"pep440":   900,
	"match":    800,
	"edge":     700,
	"ref":      600,
	"raw":      200,
	"sha":      100,
}

// Ref events of `type=ref` and formats of `type=sha`.
const (
	eventBranch = "branch"
	eventTag    = "tag"
	eventPR     = "pr"
	formatShort = "short"
	formatLong  = "long"
)

// tagRule is one parsed entry of the tags input.
type tagRule struct {
	source   string
	typ      tagType
	attrs    map[string]string // as tag.ts leaves them, defaults included
	priority float64
	// templates holds the parsed Handlebars attributes.
	templates map[string]*template
	// regex is the compiled `pattern` of a match rule, or the `match`
	// attribute of a semver or pep440 rule.
	regex *jsRegexp
	// builtin marks slipway's default rules, which may use the
	// expressions of defaultRuleExpressions.
	builtin bool
}

// has reports whether the rule sets attr (hasOwnProperty upstream).
func (r *tagRule) has(attr string) bool {
	_, ok := r.attrs[attr]
	return ok
}

// keyValue splits a field at its first "=" when that "=" is not the
// first character, as tag.ts's split(/(?<=^[^=]+?)=/) does, and trims
// both sides.
func keyValue(field string) (key, value string, ok bool) {
	i := strings.IndexByte(field, '=')
	if i <= 0 {
		return jsTrim(field), "", false
	}
	return jsTrim(field[:i]), jsTrim(field[i+1:]), true
}

// parseTagRule parses one entry of the tags input (tag.ts Parse).
func parseTagRule(s string) (*tagRule, error) {
	fields, err := splitFields(s, false)
	if err != nil {
		return nil, fmt.Errorf("parsing tag rule %q: %w", s, err)
	}
	r := &tagRule{source: s, attrs: map[string]string{}, templates: map[string]*template{}}
	for _, field := range fields {
		key, value, ok := keyValue(field)
		if !ok {
			r.attrs["value"] = key
			continue
		}
		key = strings.ToLower(key)
		if key != "type" {
			r.attrs[key] = value
			continue
		}
		r.typ = ""
		for _, t := range tagTypes {
			if string(t) == value {
				r.typ = t
			}
		}
		if r.typ == "" {
			return nil, fmt.Errorf("unknown tag type %q in %q (expected schedule, semver, pep440, match, edge, ref, raw or sha)", value, s)
		}
	}
	if r.typ == "" {
		r.typ = typeRaw
	}
	if err := r.applyTypeDefaults(); err != nil {
		return nil, err
	}
	r.setDefault("enable", "true")
	r.setDefault("priority", fmt.Sprint(DefaultPriorities[string(r.typ)]))
	if err := r.compile(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *tagRule) setDefault(attr, value string) {
	if !r.has(attr) {
		r.attrs[attr] = value
	}
}

// applyTypeDefaults checks the attributes a type requires and fills in
// the defaults tag.ts sets.
func (r *tagRule) applyTypeDefaults() error {
	switch r.typ {
	case typeSchedule:
		r.setDefault("pattern", "nightly")
	case typeSemver, typePep440:
		if !r.has("pattern") {
			return fmt.Errorf("missing pattern attribute in %q (expected e.g. type=%s,pattern={{version}})", r.source, r.typ)
		}
		r.setDefault("value", "")
		r.setDefault("match", "")
	case typeMatch:
		if !r.has("pattern") {
			return fmt.Errorf(`missing pattern attribute in %q (expected a regular expression, e.g. type=match,pattern=v(.*),group=1)`, r.source)
		}
		r.setDefault("group", "0")
		if _, ok := jsNumber(r.attrs["group"]); !ok {
			return fmt.Errorf("invalid match group %q in %q (expected a number)", r.attrs["group"], r.source)
		}
		r.setDefault("value", "")
	case typeEdge:
		r.setDefault("branch", "")
	case typeRef:
		ev, ok := r.attrs["event"]
		if !ok {
			return fmt.Errorf("missing event attribute in %q (expected event=branch, event=tag or event=pr)", r.source)
		}
		if ev != eventBranch && ev != eventTag && ev != eventPR {
			return fmt.Errorf("invalid event %q in %q (expected branch, tag or pr)", ev, r.source)
		}
		if ev == eventPR {
			r.setDefault("prefix", "pr-")
		}
	case typeRaw:
		if !r.has("value") {
			return fmt.Errorf("missing value attribute in %q (expected e.g. type=raw,value=foo)", r.source)
		}
	case typeSha:
		r.setDefault("prefix", "sha-")
		r.setDefault("format", formatShort)
		if f := r.attrs["format"]; f != formatShort && f != formatLong {
			return fmt.Errorf("invalid format %q in %q (expected short or long)", f, r.source)
		}
	}
	return nil
}

// templateAttrs are the attributes rendered as Handlebars templates, per
// type; prefix, suffix and enable are templates for every type.
var templateAttrs = map[tagType][]string{
	typeSchedule: {"pattern"},
	typeSemver:   {"pattern", "value"},
	typePep440:   {"pattern", "value"},
	typeMatch:    {"value"},
	typeRaw:      {"value"},
}

// isRegexLiteral is match's test for a /source/flags pattern.
var isRegexLiteral = regexp.MustCompile(`^/(.+)/(.*)$`)

// compile validates the priority, parses the templates and compiles the
// regular expressions of the rule.
func (r *tagRule) compile() error {
	p, ok := jsNumber(r.attrs["priority"])
	if !ok {
		return fmt.Errorf("invalid priority %q in %q (expected a number)", r.attrs["priority"], r.source)
	}
	r.priority = p
	for _, attr := range append([]string{"prefix", "suffix", "enable"}, templateAttrs[r.typ]...) {
		v, ok := r.attrs[attr]
		if !ok {
			continue
		}
		t, err := parseTemplate(v)
		if err != nil {
			return fmt.Errorf("parsing %s %q of tag rule %q: %w", attr, v, r.source, err)
		}
		r.templates[attr] = t
	}
	if e := r.attrs["enable"]; !strings.Contains(e, "{{") && e != "true" && e != "false" {
		return fmt.Errorf("invalid enable %q in %q (expected true, false or an expression)", e, r.source)
	}
	var err error
	switch {
	case r.typ == typeMatch:
		pattern := r.attrs["pattern"]
		if m := isRegexLiteral.FindStringSubmatch(pattern); m != nil {
			r.regex, err = compileJSRegexp(m[1], m[2])
		} else {
			r.regex, err = compileJSRegexp(pattern, "")
		}
	case (r.typ == typeSemver || r.typ == typePep440) && r.attrs["match"] != "":
		r.regex, err = compileJSRegexp(r.attrs["match"], "")
		if err == nil && r.regex.re.NumSubexp() < 1 {
			err = fmt.Errorf("match %q has no capture group (the version is taken from group 1)", r.attrs["match"])
		}
	}
	if err != nil {
		return fmt.Errorf("tag rule %q: %w", r.source, err)
	}
	return nil
}

// parseTagRules parses the tags input and sorts the rules by descending
// priority, keeping the input order for equal priorities (tag.ts
// Transform). builtin marks the rules as slipway's defaults.
func parseTagRules(entries []string, builtin bool) ([]*tagRule, error) {
	rules := make([]*tagRule, 0, len(entries))
	for _, e := range entries {
		r, err := parseTagRule(e)
		if err != nil {
			return nil, err
		}
		r.builtin = builtin
		rules = append(rules, r)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].priority > rules[j].priority })
	return rules, nil
}
