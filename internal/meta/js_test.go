package meta

import (
	"slices"
	"testing"
	"time"
)

// Unit tests of the ported JavaScript pieces: pep440, moment, regular
// expressions, Handlebars and metadata-action's use of csv-parse.

func TestPEP440(t *testing.T) {
	tests := []struct{ in, clean string }{
		{"1.2.3", "1.2.3"}, {"v1.2.3", "1.2.3"}, {"1.2.3rc2", "1.2.3rc2"}, {"1.2.3post1", "1.2.3.post1"},
		{"1.2.3beta2", "1.2.3b2"}, {"1.0dev4", "1.0.dev4"}, {"1!2.0", "1!2.0"}, {"1.0-1", "1.0.post1"},
		{"1.02", "1.2"}, {"1.0+abc.5", "1.0+abc,5"}, {"1.0.0-ALPHA", "1.0.0a0"}, {"foo", ""},
	}
	for _, tt := range tests {
		if got := pep440CleanVersion(tt.in); got != tt.clean || pep440IsValid(tt.in) != (tt.clean != "") {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.clean)
		}
	}
	e, _ := pep440Explain("1.2rc1")
	if !e.isPrerelease || e.segment(0) != 1 || e.segment(1) != 2 || e.segment(2) != 0 {
		t.Errorf("explain(1.2rc1) = %+v", e)
	}
}

func TestMomentFormat(t *testing.T) {
	ts := time.Date(2020, 1, 10, 15, 25, 50, 123e6, time.UTC)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	tests := []struct {
		t      time.Time
		format string
		want   string
	}{
		{ts, "YYYYMMDD", "20200110"},
		{ts, "YYYY-MM-DDTHH:mm:ss.SSS[Z]", "2020-01-10T15:25:50.123Z"},
		{ts, "dddd, MMMM Do YYYY, h:mm:ss a", "Friday, January 10th 2020, 3:25:50 pm"},
		{ts, "YY M D H h m s S SS X x", "20 1 10 15 3 25 50 1 12 1578669950 1578669950123"},
		{ts, "ddd MMM Q DDD DDDD w W E e gggg GGGG", "Fri Jan 1 10 010 2 2 5 5 2020 2020"},
		{ts, "Z ZZ z", "+00:00 +0000 UTC"},
		{ts.In(tokyo), "YYYYMMDD-HHmmss Z", "20200111-002550 +09:00"},
		{ts, `[today is] dddd \Y`, "today is Friday Y"},
		{ts, "", "2020-01-10T15:25:50Z"},
		{ts.In(tokyo), "", "2020-01-11T00:25:50+09:00"},
		{ts, "LL", "January 10, 2020"},
		{ts, "hmm kk A", "325 15 PM"},
	}
	for _, tt := range tests {
		if got := momentFormat(tt.t, tt.format); got != tt.want {
			t.Errorf("format(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

func TestJSRegexp(t *testing.T) {
	tests := []struct {
		src, flags, in string
		want           []string // nil: no match
		err            bool
	}{
		{src: `\d{8}`, in: "20200110-RC2", want: []string{"20200110"}},
		{src: `^v(\d.\d.\d)$`, flags: "ig", in: "V1.0.0", want: []string{"V1.0.0"}},
		{src: `a.c`, in: "a\rc"},
		{src: `a.c`, flags: "s", in: "a\rc", want: []string{"a\rc"}},
		{src: `\s`, in: "\u00a0", want: []string{"\u00a0"}},
		{src: `[[:alpha:]]`, in: "[:]", want: []string{":]"}},
		{src: `\u0041\x42`, in: "AB", want: []string{"AB"}},
		{src: `a{,2}`, in: "a{,2}", want: []string{"a{,2}"}},
		{src: `(?<v>\d+)`, in: "x12", want: []string{"12", "12"}},
		{src: `b`, flags: "y", in: "ab"},
		{src: `(?=a)`, err: true},
		{src: `(a)\1`, err: true},
		{src: `a`, flags: "gg", err: true},
		{src: `a{1001}`, err: true},
	}
	for _, tt := range tests {
		re, err := compileJSRegexp(tt.src, tt.flags)
		if (err != nil) != tt.err {
			t.Errorf("compile(/%s/%s) error = %v, want error %v", tt.src, tt.flags, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if got, _ := re.match(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("/%s/%s.match(%q) = %q, want %q", tt.src, tt.flags, tt.in, got, tt.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	ctx := map[string]any{
		"branch": constHelper("main"),
		"obj":    map[string]any{"n": float64(0), "list": []any{"a", float64(2)}},
		"amp":    "a&b=c",
		"date":   dateHelper("date", testNow),
	}
	tests := []struct{ src, want string }{
		{"x-{{branch}}-y", "x-main-y"},
		{"{{ obj.n }}.{{obj.list}}", "0.a,2"},
		{"{{amp}}|{{{amp}}}|{{& amp}}", "a&amp;b&#x3D;c|a&b=c|a&b=c"},
		{"{{missing}}", ""},
		{"a {{! comment }} b", "a  b"},
		{"  {{!-- }} --}}  ", ""},
		{"a  {{~branch~}}  b", "amainb"},
		{`\{{branch}}`, "{{branch}}"},
		{"{{lookup obj 'n'}}", "0"},
		{"{{date 'YYYY' tz=\"Asia/Tokyo\"}}", "2020"},
		{"{{this.branch}}", "main"},
	}
	for _, tt := range tests {
		tm, err := parseTemplate(tt.src)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.src, err)
			continue
		}
		if got, err := tm.render(ctx); err != nil || got != tt.want {
			t.Errorf("render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	for _, src := range []string{"{{", "{{}}", "{{#if a}}b{{/if}}", "{{> partial}}", "{{a (b)}}", "{{@index}}", "{{a 'b}}", "{{../a}}"} {
		if _, err := parseTemplate(src); err == nil {
			t.Errorf("parse(%q) succeeded, want an error", src)
		}
	}
	for _, src := range []string{"{{date}}", "{{date 'YYYY' zone='UTC'}}", "{{date 'YYYY' tz='Mars/Olympus'}}", "{{amp 'x'}}", "{{if a}}"} {
		tm, err := parseTemplate(src)
		if err != nil {
			t.Errorf("parse(%q): %v", src, err)
			continue
		}
		if _, err := tm.render(ctx); err == nil {
			t.Errorf("render(%q) succeeded, want an error", src)
		}
	}
}

func TestSplitFields(t *testing.T) {
	if _, err := splitFields(`a,"b`, false); err == nil {
		t.Error("unclosed quote accepted")
	}
	if _, err := splitFields(`a,b"c`, false); err == nil {
		t.Error("quote inside a field accepted")
	}
	if f, err := splitFields(`a,b"c,"d"e`, true); err != nil || !slices.Equal(f, []string{"a", `b"c`, `"d"e`}) {
		t.Errorf("relaxed = %q, %v", f, err)
	}
}

func TestParseErrorsAreInputErrors(t *testing.T) {
	for _, in := range []Inputs{
		{Tags: []string{"type=foo"}},
		{Images: []string{"name=a,enable=maybe"}},
		{Flavor: []string{"latest=maybe"}},
		{Labels: []string{"=x"}},
		{Annotations: []string{"name=a,colour=red"}},
		{ShortSHALength: -1},
		{AnnotationLevels: []string{""}},
	} {
		if _, err := Parse(in); err == nil || !isInputError(err) {
			t.Errorf("Parse(%+v) = %v, want an *errs.InputError", in, err)
		}
	}
	_, err := Parse(Inputs{Tags: []string{"type=foo"}})
	want := `input "tags": unknown tag type "foo" in "type=foo" (expected schedule, semver, pep440, match, edge, ref, raw or sha)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestShortSHALengthAndLevels(t *testing.T) {
	spec, err := Parse(Inputs{Tags: []string{"type=sha", "type=raw,{{sha}}"}, ShortSHALength: 12, AnnotationLevels: []string{"manifest", "index"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := spec.Compute(fixture(t, "event_push_dev.env"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"860c1904a1ce", "sha-860c1904a1ce"}; !slices.Equal(res.TagNames, want) {
		t.Errorf("tag names = %q, want %q", res.TagNames, want)
	}
	if len(res.Annotations) != 16 || res.Annotations[8].Level != "index" {
		t.Errorf("annotations = %q", res.Annotations)
	}
}

func TestWarnings(t *testing.T) {
	spec, err := Parse(Inputs{Tags: []string{"type=semver,pattern={{version}}", "type=match,pattern=x(y),group=2"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := spec.Compute(fixture(t, "event_tag_sometag.env"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sometag is not a valid semver. More info: https://semver.org/", "x(y) does not match sometag."}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings = %q, want %q", res.Warnings, want)
	}
}

func TestLocaleLess(t *testing.T) {
	keys := []string{"org.b", "Maintainer", "org-a", "org_a", "maintainer", "1x", "a"}
	slices.SortStableFunc(keys, func(a, b string) int {
		if localeLess(a, b) {
			return -1
		}
		if localeLess(b, a) {
			return 1
		}
		return 0
	})
	want := []string{"1x", "a", "maintainer", "Maintainer", "org_a", "org-a", "org.b"}
	if !slices.Equal(keys, want) {
		t.Errorf("sorted = %q, want %q", keys, want)
	}
}
