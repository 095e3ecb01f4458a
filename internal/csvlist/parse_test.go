package csvlist

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	strict, relaxed := ParseOpts{}, ParseOpts{RelaxQuotes: true}
	for _, tc := range []struct {
		name string
		in   string
		opts ParseOpts
		want [][]string
	}{
		{"fields", `a,"b,c",""`, strict, [][]string{{"a", "b,c", ""}}},
		{"escaped quote", `"a""b"`, strict, [][]string{{`a"b`}}},
		{"record delimiters", "a\rb\r\nc\n\nd", strict, [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
		{"newline in a quoted field", "\"a\nb\",c", strict, [][]string{{"a\nb", "c"}}},
		{"comment", "#x\na,b#c\n\"#\"", ParseOpts{Comment: '#'}, [][]string{{"a", "b"}, {"#"}}},
		{"no quote", `"a,b"`, ParseOpts{NoQuote: true}, [][]string{{`"a`, `b"`}}},
		{"relaxed quote in a field", `a,b"c,"d"e`, relaxed, [][]string{{"a", `b"c`, `"d"e`}}},
		// csv-parse's relax_quotes tests.
		{"relaxed quotes in the middle", `384682,the "SAMAY" Hostel,Jiron Florida 285`, relaxed, [][]string{{"384682", `the "SAMAY" Hostel`, "Jiron Florida 285"}}},
		{"relaxed quotes on the left", "a,\"b\" c,d\na,\"\"b\" c,d", relaxed, [][]string{{"a", `"b" c`, "d"}, {"a", `""b" c`, "d"}}},
		{"relaxed two quotes on the left", `a,""b"" c,d`, relaxed, [][]string{{"a", `""b"" c`, "d"}}},
		{"relaxed quotes on the right", "a,b \"c\",d\nBob\"\",\"23\",e", relaxed, [][]string{{"a", `b "c"`, "d"}, {`Bob""`, "23", "e"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in, tc.opts)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		opts ParseOpts
		want string
	}{
		{`a,"b`, ParseOpts{}, "line 1: quote not closed"},
		{"a\n\"b\nc", ParseOpts{RelaxQuotes: true}, "line 2: quote not closed"},
		{`a,b"c`, ParseOpts{}, "line 1: invalid opening quote"},
		{"a\r\n\"b\" c", ParseOpts{}, "line 2: invalid closing quote"},
	} {
		if _, err := Parse(tc.in, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %+v) = %v, want an error with %q", tc.in, tc.opts, err, tc.want)
		}
	}
}
