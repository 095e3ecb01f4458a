package jsstring

import (
	"strings"
	"testing"
	"unicode"
)

// Space is Unicode's Zs category plus ECMA-262's other WhiteSpace and
// LineTerminator code points, nothing else.
func TestSpaceIsECMAScriptWhitespace(t *testing.T) {
	extra := map[rune]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, 0x2028: true, 0x2029: true, 0xfeff: true}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := unicode.Is(unicode.Zs, r) || extra[r]
		if got := strings.ContainsRune(Space, r); got != want {
			t.Errorf("%U in Space = %v, want %v", r, got, want)
		}
	}
	if got := Trim("\u3000\ufeff a b\u2028\n"); got != "a b" {
		t.Errorf("Trim = %q", got)
	}
}
