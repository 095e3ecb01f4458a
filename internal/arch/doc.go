// Package arch holds no code: its tests check rules of the codebase's
// shape that the compiler does not, such as which packages may link the
// heavy libraries.
package arch
