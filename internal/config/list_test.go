package config

import (
	"slices"
	"testing"
)

// The cases of docker/actions-toolkit's getInputList tests, which define
// how metadata-action and build-push-action split list inputs.
func TestSplitList(t *testing.T) {
	lines := ListOpts{IgnoreComma: true}
	for _, tc := range []struct {
		name string
		in   string
		opts ListOpts
		want []string
	}{
		{"single line", "bar", ListOpts{}, []string{"bar"}},
		{"multiline", "bar\nbaz", ListOpts{}, []string{"bar", "baz"}},
		{"empty lines", "bar\n\nbaz", ListOpts{}, []string{"bar", "baz"}},
		{"comma", "bar,baz", ListOpts{}, []string{"bar", "baz"}},
		{"empty result", "bar,baz,", ListOpts{}, []string{"bar", "baz"}},
		{"different new lines", "bar\r\nbaz", ListOpts{}, []string{"bar", "baz"}},
		{"different new lines and comma", "bar\r\nbaz,bat", ListOpts{}, []string{"bar", "baz", "bat"}},
		{"multiline and ignoring comma", "user/app:cache\ntype=local,src=path/to/dir", lines, []string{"user/app:cache", "type=local,src=path/to/dir"}},
		{"multiline and ignoring comment", "foo=bar\nbar=qux#baz", ListOpts{}, []string{"foo=bar", "bar=qux#baz"}},
		{"multiline with comment", "foo=bar\nbar=qux#baz", ListOpts{Comment: true}, []string{"foo=bar", "bar=qux"}},
		{"whole-line comment", "# tags\ntype=ref,event=pr\n  # indented\ntype=sha", ListOpts{IgnoreComma: true, Comment: true}, []string{"type=ref,event=pr", "type=sha"}},
		{"different new lines and ignoring comma", "user/app:cache\r\ntype=local,src=path/to/dir", lines, []string{"user/app:cache", "type=local,src=path/to/dir"}},
		{"do not escape surrounding quotes", `"env.no_proxy=localhost,127.0.0.1,.mydomain"`, ListOpts{IgnoreComma: true, NoQuote: true}, []string{`"env.no_proxy=localhost,127.0.0.1,.mydomain"`}},
		{"escape surrounding quotes", "linux/amd64\n\"linux/arm64,linux/arm/v7\"", ListOpts{}, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}},
		{"multiline values", "GIT_AUTH_TOKEN=abcdefgh,ijklmno=0123456789\n\"MYSECRET=aaaaaaaa\nbbbbbbb\nccccccccc\"\nFOO=bar", lines,
			[]string{"GIT_AUTH_TOKEN=abcdefgh,ijklmno=0123456789", "MYSECRET=aaaaaaaa\nbbbbbbb\nccccccccc", "FOO=bar"}},
		{"multiline values with empty lines", "\"EMPTYLINE=aaaa\n\nbbbb\nccc\"\nFOO=bar", lines, []string{"EMPTYLINE=aaaa\n\nbbbb\nccc", "FOO=bar"}},
		{"multiline values without quotes", "MYSECRET=aaaaaaaa\nbbbbbbb\nFOO=bar", lines, []string{"MYSECRET=aaaaaaaa", "bbbbbbb", "FOO=bar"}},
		{"multiline values escape quotes", "\"MYSECRET=aaaaaaaa\nbbbb\"\"bbb\nccccccccc\"\nFOO=bar", lines, []string{"MYSECRET=aaaaaaaa\nbbbb\"bbb\nccccccccc", "FOO=bar"}},
		{"keep quotes", `type=image,"name=a,b",push=true`, ListOpts{IgnoreComma: true, NoQuote: true}, []string{`type=image,"name=a,b",push=true`}},
		{"quoted field keeps comma", `type=raw,"value=a,b"`, lines, []string{"type=raw,value=a,b"}},
		{"quote inside unquoted field", `type=raw,value=a"b`, lines, []string{`type=raw,value=a"b`}},
		{"empty", "", ListOpts{}, nil},
		{"only blanks", " \n\n  ", ListOpts{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitList(tc.in, tc.opts)
			if err != nil {
				t.Fatalf("SplitList(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SplitList(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSplitListMalformed(t *testing.T) {
	for _, in := range []string{`"unclosed`, `"a"b`, "type=raw,\"value=x\ny"} {
		if got, err := SplitList(in, ListOpts{IgnoreComma: true}); err == nil {
			t.Errorf("SplitList(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"bar,baz", "a\r\nb", `"x,y"`, `"a""b"`, "#c\nd", `"open`, "type=ref,event=pr # x"} {
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, in string, ignoreComma, comment bool) {
		got, err := SplitList(in, ListOpts{IgnoreComma: ignoreComma, Comment: comment})
		if err != nil {
			return
		}
		for _, e := range got {
			if e == "" {
				t.Fatalf("SplitList(%q) returned an empty entry", in)
			}
		}
	})
}
