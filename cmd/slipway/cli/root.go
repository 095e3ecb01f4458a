// Package cli holds slipway's cobra commands. A command only parses flags
// into options, validates them and calls internal/.
package cli

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
)

// New returns the root command.
func New() *cobra.Command {
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Build, scan, sign and publish a container image in one step",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &errs.InputError{Input: "flags", Msg: "invalid command line", Err: err}
	})
	root.AddCommand(newRun(), newMerge(), newPromote(), newPrune(), newMeta(), newVersion())
	return root
}

// common are the options every pipeline command shares.
type common struct {
	flags  *pflag.FlagSet
	env    config.Env
	stdout io.Writer
	stderr io.Writer
}

func (c *common) bind(cmd *cobra.Command) {
	c.flags = cmd.Flags()
	config.RegisterFlags(c.flags)
}

func (c *common) complete(cmd *cobra.Command) error {
	c.env = environ.OS()
	c.stdout, c.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
	return nil
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return errs.Input("arguments", "%s takes no arguments (inputs are flags, SLIPWAY_* variables or %s), got %q", cmd.CommandPath(), config.DefaultFile, args[0])
	}
	return nil
}
