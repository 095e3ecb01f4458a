package pipeline

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/errs"
)

// A second run on the same output directory is refused at once, naming
// output-dir and the run that holds it; once released, it is free again.
func TestLockOutputDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	unlock, err := LockOutputDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockOutputDir(dir)
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "output-dir" || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second lock: %v, want an output-dir input error naming the pid", err)
	}
	unlock()
	unlock2, err := LockOutputDir(dir)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}
