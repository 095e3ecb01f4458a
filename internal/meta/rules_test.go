package meta

import (
	"fmt"
	"maps"
	"testing"
)

// This file ports docker/metadata-action's __tests__/tag.test.ts and
// __tests__/flavor.test.ts, and the isRawStatement suite of meta.test.ts.

func prio(t tagType) string { return fmt.Sprint(DefaultPriorities[string(t)]) }

// tagParseCases are tag.test.ts's parse suite; want nil means invalid.
var tagParseCases = []struct {
	in   string
	typ  tagType
	want map[string]string
}{
	{`type=schedule,enable=true,pattern={{date 'YYYYMMDD'}}`, typeSchedule, map[string]string{"priority": prio(typeSchedule), "enable": "true", "pattern": "{{date 'YYYYMMDD'}}"}},
	{`type=schedule,enable=true,pattern={{date 'YYYYMMDD' tz='Asia/Tokyo'}}`, typeSchedule, map[string]string{"priority": prio(typeSchedule), "enable": "true", "pattern": "{{date 'YYYYMMDD' tz='Asia/Tokyo'}}"}},
	{`type=semver,enable=true,pattern={{version}}`, typeSemver, map[string]string{"priority": prio(typeSemver), "enable": "true", "pattern": "{{version}}", "value": "", "match": ""}},
	{`type=semver,priority=1,enable=true,pattern={{version}}`, typeSemver, map[string]string{"priority": "1", "enable": "true", "pattern": "{{version}}", "value": "", "match": ""}},
	{`type=semver,priority=1,enable=true,pattern={{version}},value=v1.0.0`, typeSemver, map[string]string{"priority": "1", "enable": "true", "pattern": "{{version}}", "value": "v1.0.0", "match": ""}},
	{`type=match,enable=true,pattern=v(.*),group=1`, typeMatch, map[string]string{"priority": prio(typeMatch), "enable": "true", "pattern": "v(.*)", "group": "1", "value": ""}},
	{`type=match,enable=true,"pattern=^v(\d.\d.\d)$",group=1`, typeMatch, map[string]string{"priority": prio(typeMatch), "enable": "true", "pattern": `^v(\d.\d.\d)$`, "group": "1", "value": ""}},
	{`type=match,priority=700,enable=true,pattern=v(.*),group=1`, typeMatch, map[string]string{"priority": "700", "enable": "true", "pattern": "v(.*)", "group": "1", "value": ""}},
	{`type=match,enable=true,pattern=v(.*),group=1,value=v1.2.3`, typeMatch, map[string]string{"priority": prio(typeMatch), "enable": "true", "pattern": "v(.*)", "group": "1", "value": "v1.2.3"}},
	{`type=match,enable=true,pattern=v(.*),group=foo`, "", nil},
	{`type=edge`, typeEdge, map[string]string{"priority": prio(typeEdge), "enable": "true", "branch": ""}},
	{`type=edge,enable=true,branch=master`, typeEdge, map[string]string{"priority": prio(typeEdge), "enable": "true", "branch": "master"}},
	{`type=ref,event=tag`, typeRef, map[string]string{"priority": prio(typeRef), "enable": "true", "event": "tag"}},
	{`type=ref,event=branch`, typeRef, map[string]string{"priority": prio(typeRef), "enable": "true", "event": "branch"}},
	{`type=ref,event=pr`, typeRef, map[string]string{"priority": prio(typeRef), "enable": "true", "prefix": "pr-", "event": "pr"}},
	{`type=ref,event=foo`, "", nil},
	{`type=ref`, "", nil},
	{`acustomtag`, typeRaw, map[string]string{"priority": prio(typeRaw), "enable": "true", "value": "acustomtag"}},
	{`type=raw`, "", nil},
	{`type=raw,value=acustomtag2`, typeRaw, map[string]string{"priority": prio(typeRaw), "enable": "true", "value": "acustomtag2"}},
	{`type=raw,enable=true,value=acustomtag4`, typeRaw, map[string]string{"priority": prio(typeRaw), "enable": "true", "value": "acustomtag4"}},
	{`type=raw,enable=false,value=acustomtag5`, typeRaw, map[string]string{"priority": prio(typeRaw), "enable": "false", "value": "acustomtag5"}},
	{`type=sha`, typeSha, map[string]string{"priority": prio(typeSha), "enable": "true", "prefix": "sha-", "format": "short"}},
	{`type=sha,format=long`, typeSha, map[string]string{"priority": prio(typeSha), "enable": "true", "prefix": "sha-", "format": "long"}},
	{`type=sha,prefix=`, typeSha, map[string]string{"priority": prio(typeSha), "enable": "true", "prefix": "", "format": "short"}},
	{`type=sha,enable=false`, typeSha, map[string]string{"priority": prio(typeSha), "enable": "false", "prefix": "sha-", "format": "short"}},
	{`type=semver`, "", nil},
	{`type=match`, "", nil},
	{`type=foo`, "", nil},
	{`type=sha,format=foo`, "", nil},
	// slipway: inputs metadata-action accepts but slipway rejects up front.
	{`type=raw,value=x,priority=high`, "", nil},
	{`type=raw,value=x,enable=yes`, "", nil},
	{`type=match,pattern=(?=a)`, "", nil},
	{`type=semver,pattern={{version}},match=\d`, "", nil},
	{`type=raw,value={{#if x}}y{{/if}}`, "", nil},
	{`type=raw,"value`, "", nil},
}

func TestUpstreamTagParse(t *testing.T) {
	for _, tt := range tagParseCases {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseTagRule(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("parseTagRule(%q) = %+v, want an error", tt.in, r.attrs)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTagRule(%q): %v", tt.in, err)
			}
			if r.typ != tt.typ || !maps.Equal(r.attrs, tt.want) {
				t.Errorf("parseTagRule(%q) = %s %v, want %s %v", tt.in, r.typ, r.attrs, tt.typ, tt.want)
			}
		})
	}
}

// TestUpstreamTagTransform ports tag.test.ts's transform suite: rules
// sorted by priority, input order kept for equal priorities.
func TestUpstreamTagTransform(t *testing.T) {
	rules, err := parseTagRules([]string{
		`type=ref,event=branch`, `type=ref,event=tag`, `type=ref,event=pr`, `type=schedule`, `type=sha`,
		`type=raw,foo`, `type=edge`, `type=semver,pattern={{version}}`, `type=match,"pattern=\d.\d.\d",group=0`,
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, string(r.typ)+"/"+r.attrs["event"])
	}
	want := []string{"schedule/", "semver/", "match/", "edge/", "ref/branch", "ref/tag", "ref/pr", "raw/", "sha/"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestUpstreamFlavor(t *testing.T) {
	tests := []struct {
		in   []string
		want *flavor // nil: invalid
	}{
		{[]string{`randomstr`, `latest=auto`}, nil},
		{[]string{`unknwown=foo`}, nil},
		{[]string{`latest`}, nil},
		{[]string{`latest=true`}, &flavor{latest: "true"}},
		{[]string{`latest=false`}, &flavor{latest: "false"}},
		{[]string{`latest=auto`}, &flavor{latest: "auto"}},
		{[]string{`latest=foo`}, nil},
		{[]string{`prefix=sha-`}, &flavor{latest: "auto", prefix: "sha-"}},
		{[]string{`suffix=-alpine`}, &flavor{latest: "auto", suffix: "-alpine"}},
		{[]string{`latest=false`, `prefix=dev-`, `suffix=-alpine`}, &flavor{latest: "false", prefix: "dev-", suffix: "-alpine"}},
		{[]string{`prefix=dev-,onlatest=true`}, &flavor{latest: "auto", prefix: "dev-", prefixLatest: true}},
		{[]string{`suffix=-alpine,onlatest=true`}, &flavor{latest: "auto", suffix: "-alpine", suffixLatest: true}},
		{[]string{`prefix=dev-,onlatest=true`, `suffix=-alpine,onlatest=true`}, &flavor{latest: "auto", prefix: "dev-", prefixLatest: true, suffix: "-alpine", suffixLatest: true}},
		{[]string{`prefix= `}, &flavor{latest: "auto"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			f, err := parseFlavor(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("parseFlavor(%q) succeeded, want an error", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f.prefixTmpl, f.suffixTmpl = nil, nil
			if *f != *tt.want {
				t.Errorf("parseFlavor(%q) = %+v, want %+v", tt.in, *f, *tt.want)
			}
		})
	}
}

func TestUpstreamIsRawStatement(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		want    bool
	}{
		{"{{ raw }}.{{ version }}", false},
		{"{{ version }},{{raw }.", false},
		{"{{ raw }}", true},
		{"{{ raw}}", true},
		{"{{raw}}", true},
	} {
		tm, err := parseTemplate(tt.pattern)
		got := err == nil && tm.isRawStatement()
		if got != tt.want {
			t.Errorf("isRawStatement(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

// TestImages covers image.ts: the old comma-separated format and
// name=...,enable=... entries.
func TestImages(t *testing.T) {
	tests := []struct {
		in   []string
		want []image // nil: invalid
	}{
		{[]string{"user/app"}, []image{{"user/app", true}}},
		{[]string{"user/app,ghcr.io/user/app"}, []image{{"user/app", true}, {"ghcr.io/user/app", true}}},
		{[]string{"name=user/app,enable=false"}, []image{{"user/app", false}}},
		{[]string{"user/app", "ghcr.io/user/app,enable=false"}, []image{{"user/app", true}, {"ghcr.io/user/app", false}}},
		{[]string{"name=user/app,enable=maybe"}, nil},
		{[]string{"name=user/app,foo=bar"}, nil},
		{[]string{"enable=true"}, nil},
	}
	for _, tt := range tests {
		got, err := parseImages(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("parseImages(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("parseImages(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
