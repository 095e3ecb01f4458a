package errs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{Input("tags", "unknown tag type %q", "foo"), ExitBadInput},
		{fmt.Errorf("loading: %w", Input("platforms", "bad")), ExitBadInput},
		{Stage("build", errors.New("solve failed")), ExitStageFail},
		{Stage("scan", WrapInput("severity", context.Canceled, "x")), ExitBadInput},
		{context.Canceled, ExitStageFail},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if Stage("build", nil) != nil {
		t.Error("Stage(nil) is not nil")
	}
	if got := Input("tags", "unknown tag type %q", "foo").Error(); got != `input "tags": unknown tag type "foo"` {
		t.Errorf("message = %q", got)
	}
}

// A huge value or message is cut, and the message stays on one line.
func TestInputErrorShortensAndStaysOnOneLine(t *testing.T) {
	huge := strings.Repeat("é", 100_000)
	for _, err := range []error{
		Input("tags", "%q is not a tag", huge),
		&InputError{Input: "tags", Msg: "bad tag " + huge},
		WrapInput("config", errors.New("line 1\nline 2"), "parsing\n%s", "x"),
	} {
		msg := err.Error()
		if len(msg) > 1000 || strings.Contains(msg, "\n") || !utf8.ValidString(msg) {
			t.Errorf("message of %d bytes, one line %v, valid UTF-8 %v: %.300q", len(msg), !strings.Contains(msg, "\n"), utf8.ValidString(msg), msg)
		}
	}
}
