// Command slipway takes a repository from commit to a published, scanned,
// signed container image in one step.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway-ci/slipway/cmd/slipway/cli"
	"github.com/slipway-ci/slipway/internal/errs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.New().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "slipway:", err)
	}
	os.Exit(errs.ExitCode(err))
}
