package csvlist

import (
	"slices"
	"testing"
)

// The cases of docker/actions-toolkit's getInputList tests, which define
// how metadata-action and build-push-action split list inputs.
func TestSplit(t *testing.T) {
	lines := Opts{IgnoreComma: true}
	for _, tc := range []struct {
		name string
		in   string
		opts Opts
		want []string
	}{
		{"single line", "bar", Opts{}, []string{"bar"}},
		{"multiline", "bar\nbaz", Opts{}, []string{"bar", "baz"}},
		{"empty lines", "bar\n\nbaz", Opts{}, []string{"bar", "baz"}},
		{"comma", "bar,baz", Opts{}, []string{"bar", "baz"}},
		{"empty result", "bar,baz,", Opts{}, []string{"bar", "baz"}},
		{"different new lines", "bar\r\nbaz", Opts{}, []string{"bar", "baz"}},
		{"different new lines and comma", "bar\r\nbaz,bat", Opts{}, []string{"bar", "baz", "bat"}},
		{"multiline and ignoring comma", "user/app:cache\ntype=local,src=path/to/dir", lines, []string{"user/app:cache", "type=local,src=path/to/dir"}},
		{"multiline and ignoring comment", "foo=bar\nbar=qux#baz", Opts{}, []string{"foo=bar", "bar=qux#baz"}},
		{"multiline with comment", "foo=bar\nbar=qux#baz", Opts{Comment: '#'}, []string{"foo=bar", "bar=qux"}},
		{"whole-line comment", "# tags\ntype=ref,event=pr\n  # indented\ntype=sha", Opts{IgnoreComma: true, Comment: '#'}, []string{"type=ref,event=pr", "type=sha"}},
		{"different new lines and ignoring comma", "user/app:cache\r\ntype=local,src=path/to/dir", lines, []string{"user/app:cache", "type=local,src=path/to/dir"}},
		{"do not escape surrounding quotes", `"env.no_proxy=localhost,127.0.0.1,.mydomain"`, Opts{IgnoreComma: true, NoQuote: true}, []string{`"env.no_proxy=localhost,127.0.0.1,.mydomain"`}},
		{"escape surrounding quotes", "linux/amd64\n\"linux/arm64,linux/arm/v7\"", Opts{}, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}},
		{"multiline values", "GIT_AUTH_TOKEN=abcdefgh,ijklmno=0123456789\n\"MYSECRET=aaaaaaaa\nbbbbbbb\nccccccccc\"\nFOO=bar", lines,
			[]string{"GIT_AUTH_TOKEN=abcdefgh,ijklmno=0123456789", "MYSECRET=aaaaaaaa\nbbbbbbb\nccccccccc", "FOO=bar"}},
		{"multiline values with empty lines", "\"EMPTYLINE=aaaa\n\nbbbb\nccc\"\nFOO=bar", lines, []string{"EMPTYLINE=aaaa\n\nbbbb\nccc", "FOO=bar"}},
		{"multiline values without quotes", "MYSECRET=aaaaaaaa\nbbbbbbb\nFOO=bar", lines, []string{"MYSECRET=aaaaaaaa", "bbbbbbb", "FOO=bar"}},
		{"multiline values escape quotes", "\"MYSECRET=aaaaaaaa\nbbbb\"\"bbb\nccccccccc\"\nFOO=bar", lines, []string{"MYSECRET=aaaaaaaa\nbbbb\"bbb\nccccccccc", "FOO=bar"}},
		{"keep quotes", `type=image,"name=a,b",push=true`, Opts{IgnoreComma: true, NoQuote: true}, []string{`type=image,"name=a,b",push=true`}},
		{"quoted field keeps comma", `type=raw,"value=a,b"`, lines, []string{"type=raw,value=a,b"}},
		{"quote inside unquoted field", `type=raw,value=a"b`, lines, []string{`type=raw,value=a"b`}},
		{"empty", "", Opts{}, nil},
		{"only blanks", " \n\n  ", Opts{}, nil},
		// metadata-action's tags input: comments, quoted fields, blanks.
		{"tag rules", "type=ref,event=branch\n  # comment\ntype=match,\"pattern=\\d.\\d\"\n\n type=sha # trailing\n", Opts{IgnoreComma: true, Comment: '#'},
			[]string{"type=ref,event=branch", `type=match,pattern=\d.\d`, "type=sha"}},
		{"text after a closing quote keeps the quotes (relax_quotes)", `"a"b,c`, Opts{}, []string{`"a"b`, "c"}},
		{"comment after a closing quote", `"a,b"# note`, Opts{IgnoreComma: true, Comment: '#'}, []string{"a,b"}},
		{"JavaScript blanks trimmed", "\u00a0a\ufeff\n\u3000", Opts{}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.in, tc.opts)
			if err != nil {
				t.Fatalf("Split(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSplitMalformed(t *testing.T) {
	for _, in := range []string{`"unclosed`, "type=raw,\"value=x\ny"} {
		if got, err := Split(in, Opts{IgnoreComma: true}); err == nil {
			t.Errorf("Split(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"bar,baz", "a\r\nb", `"x,y"`, `"a""b"`, "#c\nd", `"open`, "type=ref,event=pr # x"} {
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, in string, ignoreComma, comment bool) {
		opts := Opts{IgnoreComma: ignoreComma}
		if comment {
			opts.Comment = '#'
		}
		got, err := Split(in, opts)
		if err != nil {
			return
		}
		for _, e := range got {
			if e == "" {
				t.Fatalf("Split(%q) returned an empty entry", in)
			}
		}
	})
}
