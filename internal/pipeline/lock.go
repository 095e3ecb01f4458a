package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/slipway-ci/slipway/internal/errs"
)

// lockFile is the file in the output directory a run holds a lock on.
const lockFile = ".lock"

// LockOutputDir takes the output directory for this run (creating it),
// so that two runs on one machine (a self-hosted runner with parallel
// jobs in one workspace) never write into the same layout and reports: a
// second run fails at once, naming output-dir. The lock is released by
// the returned function, and by the kernel when the process ends.
func LockOutputDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.WrapInput("output-dir", err, "creating %q", dir)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, errs.WrapInput("output-dir", err, "creating %s", path)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another slipway run"
			if pid, err := strconv.Atoi(strings.TrimSpace(string(holder))); err == nil {
				who = fmt.Sprintf("another slipway run (pid %d)", pid)
			}
			return nil, errs.Input("output-dir", "%q is in use by %s (give each concurrent run its own output-dir)", dir, who)
		}
		return nil, errs.WrapInput("output-dir", err, "locking %s", path)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
