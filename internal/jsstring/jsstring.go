// Package jsstring holds the one definition of JavaScript's whitespace
// that metadata-action's behaviour depends on: what String#trim strips
// and what \s matches (ECMA-262 WhiteSpace and LineTerminator). The list
// splitter, the semver parser, the template values and the regular
// expression translator all use it.
package jsstring

import "strings"

// Space is every whitespace character, in one string.
const Space = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

// Trim is String.prototype.trim.
func Trim(s string) string { return strings.Trim(s, Space) }
