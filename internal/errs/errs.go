// Package errs holds the two error kinds that decide slipway's exit code:
// bad input (exit 2, nothing ran) and a failed stage (exit 1).
package errs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// InputError reports an input that does not have the expected form. Its
// message is one line naming the input and what was expected.
type InputError struct {
	Input string // the input's name as the user writes it, e.g. "tags" or "platforms"
	Msg   string // what is wrong and what was expected
	Err   error  // optional cause
}

func (e *InputError) Error() string {
	msg := e.Msg
	if len(msg) > maxMsg {
		// A message carrying a huge value (a parser's own wording).
		msg = shortenTo(msg, maxMsg)
	}
	if e.Err != nil {
		return oneLine(fmt.Sprintf("input %q: %s: %v", e.Input, msg, shorten(e.Err.Error())))
	}
	return oneLine(fmt.Sprintf("input %q: %s", e.Input, msg))
}

// maxMsg bounds the message of an InputError.
const maxMsg = 600

// maxValue is the longest value quoted whole in a message; a longer one
// is cut, with its length said.
const maxValue = 200

// shorten cuts a value longer than maxValue (on a rune boundary).
func shorten(s string) string { return shortenTo(s, maxValue) }

func shortenTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// shortenArgs shortens the string arguments of a message.
func shortenArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = shorten(s)
		}
		out[i] = a
	}
	return out
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func (e *InputError) Unwrap() error { return e.Err }

// Input returns an *InputError for input, with a printf-style message.
func Input(input, format string, args ...any) error {
	return &InputError{Input: input, Msg: fmt.Sprintf(format, shortenArgs(args)...)}
}

// WrapInput returns an *InputError for input whose cause is err.
func WrapInput(input string, err error, format string, args ...any) error {
	return &InputError{Input: input, Msg: fmt.Sprintf(format, shortenArgs(args)...), Err: err}
}

// StageError reports that a pipeline stage (build, scan, sign, ...) failed.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

// Stage wraps err as a failure of stage. A nil err stays nil.
func Stage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &StageError{Stage: stage, Err: err}
}

// Exit codes.
const (
	ExitOK        = 0
	ExitStageFail = 1
	ExitBadInput  = 2
)

// ExitCode maps an error to the process exit code: 0 for nil, 2 when an
// *InputError is in its chain, else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return ExitBadInput
	}
	return ExitStageFail
}
