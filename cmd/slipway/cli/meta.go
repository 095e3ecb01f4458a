package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/prepare"
)

type metaOptions struct {
	common
	offline bool
}

func newMeta() *cobra.Command {
	o := &metaOptions{}
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Compute tags, labels and annotations as docker/metadata-action does",
		Long: `Compute the image tags, labels and annotations for the current CI context and
print on stdout the JSON object docker/metadata-action puts in its json output,
plus "version". In GitHub Actions it also sets the step outputs version, tags,
tag-names, labels, annotations and json.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.offline, "offline", false, "do not ask the CI platform's API for repository metadata")
	return cmd
}

func (o *metaOptions) run(ctx context.Context) error {
	prep, err := prepare.Run(ctx, prepare.Options{
		Flags: config.FlagValues(o.flags), Env: o.env, Offline: o.offline, MetaOnly: true, Log: o.stderr,
	})
	if err != nil {
		return err
	}
	js, err := prep.Meta.JSON()
	if err != nil {
		return err
	}
	if prep.Provider.Name() == ci.NameGitHub {
		outputs, err := prep.Meta.Outputs()
		if err != nil {
			return err
		}
		out := prep.Provider.Outputs()
		for _, kv := range outputs {
			if err := out.SetOutput(kv.Key, kv.Value); err != nil {
				return err
			}
		}
	}
	_, err = o.stdout.Write(append(js, '\n'))
	return err
}
