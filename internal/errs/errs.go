// Package errs holds the two error kinds that decide slipway's exit code:
// bad input (exit 2, nothing ran) and a failed stage (exit 1).
package errs

import (
	"errors"
	"fmt"
)

// InputError reports an input that does not have the expected form. Its
// message is one line naming the input and what was expected.
type InputError struct {
	Input string // the input's name as the user writes it, e.g. "tags" or "platforms"
	Msg   string // what is wrong and what was expected
	Err   error  // optional cause
}

func (e *InputError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("input %q: %s: %v", e.Input, e.Msg, e.Err)
	}
	return fmt.Sprintf("input %q: %s", e.Input, e.Msg)
}

func (e *InputError) Unwrap() error { return e.Err }

// Input returns an *InputError for input, with a printf-style message.
func Input(input, format string, args ...any) error {
	return &InputError{Input: input, Msg: fmt.Sprintf(format, args...)}
}

// WrapInput returns an *InputError for input whose cause is err.
func WrapInput(input string, err error, format string, args ...any) error {
	return &InputError{Input: input, Msg: fmt.Sprintf(format, args...), Err: err}
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
