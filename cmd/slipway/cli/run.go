package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/prepare"
	realstages "github.com/slipway-ci/slipway/internal/stages"
)

type runOptions struct {
	common
	dryRun  bool
	output  string // text | json
	merge   bool   // slipway merge
	promote bool   // slipway promote
	// extra are inputs the command line gives other than as their flags
	// (promote's argument and --to).
	extra map[string]string
}

func newRun() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the whole pipeline: build, scan, sign, push, tag, report",
		Long: `Run the whole pipeline: build on BuildKit and push by digest, scan with Trivy
and gate, sign and attest with cosign, move the tags last, and report.

On success it prints the image by digest (repository@sha256:...) in every
repository it reached, one per line, on stdout; progress and the summary go
to stderr. With --output json it prints the whole result instead.

With --dry-run it validates every input and prints the plan, contacting no
daemon, registry or API: the plan on stderr, and with --output json as JSON
on stdout.`,
		Args: noArgs,
		RunE: o.execute,
	}
	o.bindRun(cmd)
	return cmd
}

func (o *runOptions) execute(cmd *cobra.Command, _ []string) error {
	if err := o.complete(cmd); err != nil {
		return err
	}
	if o.output != "text" && o.output != "json" {
		return errs.Input("output", "expected text or json, got %q", o.output)
	}
	return o.run(cmd.Context())
}

func (o *runOptions) bindRun(cmd *cobra.Command) {
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the plan and touch nothing")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "result format on stdout: text or json")
}

func newMerge() *cobra.Command {
	o := &runOptions{merge: true}
	cmd := &cobra.Command{
		Use:   "merge",
		Short: "Merge the partial runs of a CI matrix into one index: gate, sign, tag, report",
		Long: `Merge the partial runs of a CI matrix (slipway run with partial: true, one
platform each) into one index: read each platform's record by the digest its
partial-result gives (the from input, or SLIPWAY_RESULT_PARTIAL_* variables),
assemble and push the index by digest, gate on the recorded scans (no pull,
no re-scan), sign and attest the index, move the tags, and report once. It
takes the same inputs as run.

Its output is run's: the image by digest on stdout, or with --output json
the whole result; --dry-run prints the plan.`,
		Args: noArgs,
		RunE: o.execute,
	}
	o.bindRun(cmd)
	return cmd
}

func newPromote() *cobra.Command {
	o := &runOptions{promote: true}
	var to []string
	var batch string
	cmd := &cobra.Command{
		Use:   "promote <repository@sha256:...> --to <repository> [--tags ...]",
		Short: "Move a verified digest to other repositories, without a rebuild: verify, judge, copy, tag",
		Long: `Promote an image another run published: verify its signatures and
attestations with cosign-key (a public key, or a private key's public half)
or the keyless certificate-identity and certificate-oidc-issuer; judge the
scan's policy on its signed vulnerability report when it is at most
report-max-age old, else on a fresh scan of it in its registry; copy the
index, every platform, the signatures, the attestations and the referrers
to every --to repository (missing blobs only, mounted inside a registry);
verify them there; then move the tags (the tags input, none by default).

Nothing moves when a check fails. Its output is run's: the image by digest
in every repository on stdout, or with --output json the whole result;
--dry-run prints the plan.

With --batch <file> it promotes, in one process and "parallel" at a time,
every tag of each source the file's filters select (allow and deny
patterns, a semver range) to that source's targets, each tag by the
digest it names, each as above.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return errs.Input("source", "slipway promote moves one image, got %d arguments (expected one repository@sha256:<hex>; --to for where)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch != "" {
				if len(args) > 0 || cmd.Flags().Changed("to") {
					return errs.Input("batch", "a replication file names its sources and targets (expected no argument and no --to with --batch)")
				}
				if err := o.complete(cmd); err != nil {
					return err
				}
				if o.output != "text" && o.output != "json" {
					return errs.Input("output", "expected text or json, got %q", o.output)
				}
				return o.runBatch(cmd.Context(), batch)
			}
			o.extra = map[string]string{}
			if len(args) == 1 {
				o.extra["source"] = args[0]
			}
			if cmd.Flags().Changed("to") {
				if cmd.Flags().Changed("images") {
					return errs.Input("to", "--to and --images both say where to promote to (expected one of them)")
				}
				o.extra["images"] = strings.Join(to, "\n")
			}
			return o.execute(cmd, nil)
		},
	}
	o.bindRun(cmd)
	cmd.Flags().StringArrayVar(&to, "to", nil, "repository to promote to (repeat for more); the images input")
	cmd.Flags().StringVar(&batch, "batch", "", "replication file: sources, targets and tag filters, promoted in one process (see the README)")
	return cmd
}

func (o *runOptions) run(ctx context.Context) error {
	prep, res, runErr := o.pipeline(ctx, o.extra)
	if prep == nil {
		return runErr
	}
	if o.output != "json" {
		if res != nil && res.Call != nil {
			// call: what buildx prints for it, failed checks too.
			fmt.Fprint(o.stdout, res.Call.Printed)
			return runErr
		}
		// The result, as ko and crane print theirs: the image by digest
		// in every repository it reached, the first repository first.
		if runErr == nil {
			for _, im := range res.Images {
				fmt.Fprintln(o.stdout, im.Ref)
			}
		}
		return runErr
	}
	enc := json.NewEncoder(o.stdout)
	enc.SetIndent("", "  ")
	if o.dryRun {
		if runErr != nil {
			return runErr
		}
		return enc.Encode(prep.Plan)
	}
	// The result says what was done and what failed, on failure too.
	return errors.Join(runErr, enc.Encode(res))
}

// pipeline prepares and runs one pipeline, extra given as inputs on top
// of the flags; prep is nil when it did not get as far as a plan.
func (o *runOptions) pipeline(ctx context.Context, extra map[string]string) (*prepare.Prepared, *pipeline.Result, error) {
	flags := config.FlagValues(o.flags)
	for k, v := range extra {
		flags[k] = v
	}
	prep, err := prepare.Run(ctx, prepare.Options{
		Flags: flags, Env: o.env, Offline: o.dryRun, Merge: o.merge, Promote: o.promote, Log: o.stderr,
	})
	if err != nil {
		return nil, nil, err
	}
	// A real run makes its stages before the plan is printed: the signing
	// key is resolved and decrypted there, and its problems are bad input.
	// A dry run reads no secret (it previews a CI job without its secrets).
	stages := pipeline.Nop(o.stderr)
	if !o.dryRun {
		if stages, err = realstages.New(prep, o.stderr); err != nil {
			return nil, nil, err
		}
		unlock, err := pipeline.LockOutputDir(prep.Config.OutputDir)
		if err != nil {
			return nil, nil, err
		}
		defer unlock()
	}
	if err := prep.Plan.WriteText(o.stderr); err != nil {
		return nil, nil, err
	}
	if o.dryRun {
		fmt.Fprintln(o.stderr, "\ndry run: nothing was built, pushed, signed or posted")
	}
	res, runErr := pipeline.Run(ctx, prep.Plan, stages)
	return prep, res, runErr
}
