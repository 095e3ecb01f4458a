package errs

import (
	"context"
	"errors"
	"fmt"
	"testing"
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
