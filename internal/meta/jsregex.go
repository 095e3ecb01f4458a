package meta

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/jsstring"
)

// This file translates JavaScript regular expressions, as metadata-action
// builds them with `new RegExp(source, flags)` or `str.match(source)`,
// into Go's RE2 syntax.
//
// Supported: everything RE2 can express — classes, groups (named too),
// alternation, greedy and lazy quantifiers, anchors, \b, escapes — with
// JavaScript's meaning where it differs from Go's: `.` excludes all line
// terminators, \s is Unicode-aware, \uXXXX and \cX escapes, `[]` and
// `[^]`, a `[` inside a class is literal, identity escapes such as \a
// stand for the letter. Flags d, g, i, m, s, u, v and y are accepted.
//
// Not supported (an error): lookahead and lookbehind, backreferences,
// legacy octal escapes, and repeat counts above 1000.

// jsRegexp is a compiled JavaScript regular expression.
type jsRegexp struct {
	re     *regexp.Regexp
	global bool // g: String#match returns every match, without groups
	sticky bool // y: the match must start at index 0
}

const (
	jsSpaceClass = jsstring.Space
	jsDotClass   = `[^\n\r\x{2028}\x{2029}]`
)

// compileJSRegexp compiles source with flags as `new RegExp` would.
func compileJSRegexp(source, flags string) (*jsRegexp, error) {
	r := &jsRegexp{}
	var goFlags string
	unicode, dotAll := false, false
	for i, f := range flags {
		if strings.ContainsRune(flags[:i], f) {
			return nil, fmt.Errorf("invalid regular expression flags %q", flags)
		}
		switch f {
		case 'g':
			r.global = true
		case 'y':
			r.sticky = true
		case 'i', 'm':
			goFlags += string(f)
		case 's':
			dotAll = true
		case 'u', 'v':
			unicode = true
		case 'd':
		default:
			return nil, fmt.Errorf("invalid regular expression flags %q", flags)
		}
	}
	translated, err := translateJSRegexp(source, unicode, dotAll)
	if err != nil {
		return nil, fmt.Errorf("regular expression /%s/: %w", source, err)
	}
	if goFlags != "" {
		translated = "(?" + goFlags + ")" + translated
	}
	if r.sticky {
		translated = `^(?:` + translated + `)`
	}
	re, err := regexp.Compile(translated)
	if err != nil {
		return nil, fmt.Errorf("regular expression /%s/: %w", source, err)
	}
	r.re = re
	return r, nil
}

// match is String.prototype.match(re): nil for no match; otherwise the
// match and its groups ("" and present=false for a group that did not
// participate), or every match for a global expression.
func (r *jsRegexp) match(s string) (groups []string, present []bool) {
	if r.global {
		all := r.re.FindAllString(s, -1)
		if all == nil {
			return nil, nil
		}
		present = make([]bool, len(all))
		for i := range present {
			present[i] = true
		}
		return all, present
	}
	idx := r.re.FindStringSubmatchIndex(s)
	if idx == nil {
		return nil, nil
	}
	n := len(idx) / 2
	groups, present = make([]string, n), make([]bool, n)
	for i := 0; i < n; i++ {
		if idx[2*i] >= 0 {
			groups[i], present[i] = s[idx[2*i]:idx[2*i+1]], true
		}
	}
	return groups, present
}

// translateJSRegexp rewrites a JavaScript pattern into RE2 syntax.
func translateJSRegexp(src string, unicode, dotAll bool) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\':
			out, n, err := translateJSEscape(src[i:], inClass, unicode)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i += n
			continue
		case inClass:
			switch c {
			case ']':
				inClass = false
			case '[':
				b.WriteString(`\[`)
				i++
				continue
			}
		case c == '[':
			switch {
			case strings.HasPrefix(src[i:], "[]"):
				b.WriteString(`[^\x00-\x{10FFFF}]`) // matches nothing
				i += 2
				continue
			case strings.HasPrefix(src[i:], "[^]"):
				b.WriteString(`[\x00-\x{10FFFF}]`) // matches anything
				i += 3
				continue
			}
			inClass = true
			if strings.HasPrefix(src[i:], "[^") {
				b.WriteString("[^")
				i += 2
				continue
			}
		case c == '.':
			if dotAll {
				b.WriteString(`[\x00-\x{10FFFF}]`)
			} else {
				b.WriteString(jsDotClass)
			}
			i++
			continue
		case c == '(' && strings.HasPrefix(src[i:], "(?"):
			rest := src[i+2:]
			switch {
			case strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "!") ||
				strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!"):
				return "", fmt.Errorf("lookaround assertions are not supported")
			case strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "<"):
			default:
				return "", fmt.Errorf("invalid group")
			}
		case c == '{':
			if m := jsRepeat.FindString(src[i:]); m != "" {
				for _, n := range strings.Split(strings.Trim(m, "{}"), ",") {
					if v, err := strconv.Atoi(n); n != "" && (err != nil || v > 1000) {
						return "", fmt.Errorf("repeat count %s is too large", m)
					}
				}
				b.WriteString(m)
				i += len(m)
				continue
			} else {
				b.WriteString(`\{`) // a literal brace in JavaScript
				i++
				continue
			}
		case c == '}':
			b.WriteString(`\}`)
			i++
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}

var jsRepeat = regexp.MustCompile(`^\{[0-9]+(,[0-9]*)?\}`)

// translateJSEscape translates the escape sequence at the start of s and
// returns the RE2 text and the number of bytes consumed.
func translateJSEscape(s string, inClass, unicode bool) (string, int, error) {
	if len(s) < 2 {
		return "", 0, fmt.Errorf("\\ at end of pattern")
	}
	c := s[1]
	switch c {
	case 'd', 'D', 'w', 'W', 't', 'n', 'v', 'f', 'r':
		if c == 'v' {
			return `\x0B`, 2, nil
		}
		return s[:2], 2, nil
	case 's':
		if inClass {
			return jsSpaceClass, 2, nil
		}
		return "[" + jsSpaceClass + "]", 2, nil
	case 'S':
		if inClass {
			return "", 0, fmt.Errorf(`\S inside a character class is not supported`)
		}
		return "[^" + jsSpaceClass + "]", 2, nil
	case 'b':
		if inClass {
			return `\x08`, 2, nil
		}
		return `\b`, 2, nil
	case 'B':
		if inClass {
			return "B", 2, nil
		}
		return `\B`, 2, nil
	case '0':
		if len(s) > 2 && isDigit(s[2]) {
			return "", 0, fmt.Errorf("octal escapes are not supported")
		}
		return `\x00`, 2, nil
	case 'c':
		if len(s) > 2 && (s[2]|0x20) >= 'a' && (s[2]|0x20) <= 'z' {
			return fmt.Sprintf(`\x%02X`, s[2]%32), 3, nil
		}
		return `\\c`, 2, nil
	case 'x':
		if len(s) >= 4 && isHex(s[2:4]) {
			return s[:4], 4, nil
		}
		return "x", 2, nil
	case 'u':
		if unicode && len(s) > 2 && s[2] == '{' {
			end := strings.IndexByte(s, '}')
			if end < 0 || !isHex(s[3:end]) {
				return "", 0, fmt.Errorf("invalid unicode escape")
			}
			return `\x{` + s[3:end] + `}`, end + 1, nil
		}
		if len(s) >= 6 && isHex(s[2:6]) {
			r, _ := strconv.ParseUint(s[2:6], 16, 32)
			n := 6
			if r >= 0xd800 && r <= 0xdbff && len(s) >= 12 && s[6:8] == `\u` && isHex(s[8:12]) {
				lo, _ := strconv.ParseUint(s[8:12], 16, 32)
				if lo >= 0xdc00 && lo <= 0xdfff {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					n = 12
				}
			}
			if r >= 0xd800 && r <= 0xdfff {
				return "", 0, fmt.Errorf("lone surrogates are not supported")
			}
			return fmt.Sprintf(`\x{%X}`, r), n, nil
		}
		return "u", 2, nil
	case 'k':
		if unicode || strings.HasPrefix(s[2:], "<") {
			return "", 0, fmt.Errorf("backreferences are not supported")
		}
		return "k", 2, nil
	case 'p', 'P':
		if unicode {
			return "", 0, fmt.Errorf(`\p property escapes are not supported`)
		}
	}
	if c >= '1' && c <= '9' {
		return "", 0, fmt.Errorf("backreferences are not supported")
	}
	r, size := utf8.DecodeRuneInString(s[1:])
	if r < utf8.RuneSelf && !isAlnum(byte(r)) {
		return `\` + string(r), 1 + size, nil // escaped punctuation
	}
	if unicode {
		return "", 0, fmt.Errorf("invalid escape \\%c", r)
	}
	return regexp.QuoteMeta(string(r)), 1 + size, nil // identity escape
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !isDigit(s[i]) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
