package cli

import (
	"cmp"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/prune"
	"github.com/slipway-ci/slipway/internal/registry"
)

type pruneOptions struct {
	policy  string
	rule    prune.Rule
	within  string
	yes     bool
	dryRun  bool
	output  string
	journal string
	api     string
}

func newPrune() *cobra.Command {
	o := &pruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune --policy <file> | --repository <pattern> [--include ...] [--keep-last N] [--keep-within D] [--yes]",
		Short: "Apply a retention policy to registry repositories: plan by default, delete with --yes",
		Long: `Apply a retention policy, Harbor's model: each rule covers repositories
(patterns on host/path) and keeps, of the tags it selects (include and
exclude patterns), the --keep-last N most recent (by semver, or by when
they were pushed) and those pushed within --keep-within (30d, 12h). In a
repository a rule covers, a tag no rule keeps is deleted, with every
digest it reaches that no kept tag reaches: platform manifests,
attestation manifests, .sig/.att tags and referrers. A digest a kept tag
reaches is never deleted.

The policy is a YAML file (--policy) or one rule in flags. Without --yes
it only prints the plan (what is kept by which rule, what would be
deleted, the bytes); with --yes it deletes, tags first, then what they
tagged, then children, then attachments, recording the plan in --journal
until it ends so that a run killed part-way is finished by the next.
The plan goes to stdout (--output json for JSON), progress to stderr.

GHCR deletes through GitHub's Packages API (GITHUB_TOKEN or
SLIPWAY_GITHUB_TOKEN with read:packages and delete:packages, at
GITHUB_API_URL), which also lists the untagged versions; GitLab's
registry lists repositories and deletes tags through GitLab's API
(SLIPWAY_GITLAB_TOKEN, else CI_JOB_TOKEN, at CI_API_V4_URL). --api
says which API each registry gets.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policy, "policy", "", "retention policy file (YAML: rules with repositories, include, exclude, last, order, within)")
	f.StringArrayVar(&o.rule.Repositories, "repository", nil, "repository pattern of the one-rule policy (repeatable)")
	f.StringArrayVar(&o.rule.Include, "include", nil, "tag pattern the rule selects (repeatable; default *)")
	f.StringArrayVar(&o.rule.Exclude, "exclude", nil, "tag pattern the rule leaves out (repeatable)")
	f.IntVar(&o.rule.Last, "keep-last", 0, "keep the N most recent selected tags")
	f.StringVar((*string)(&o.rule.Order), "order", string(prune.BySemver), "what most recent means: semver or pushed")
	f.StringVar(&o.within, "keep-within", "", "keep the selected tags pushed within this long (30d, 12h)")
	f.BoolVar(&o.yes, "yes", false, "delete (without it, print the plan only)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan only (the default)")
	f.StringVarP(&o.output, "output", "o", "text", "plan format on stdout: text or json")
	f.StringVar(&o.journal, "journal", ".slipway/prune-journal.json", "file recording a deleting run's plan until it ends")
	f.StringVar(&o.api, "api", string(prune.APIAuto), "the API that lists and deletes: auto (GitHub's Packages API for ghcr.io, GitLab's registry API for registry.gitlab.com and CI_REGISTRY, the distribution API elsewhere), distribution, github or gitlab")
	return cmd
}

func (o *pruneOptions) run(cmd *cobra.Command) error {
	if o.output != "text" && o.output != "json" {
		return errs.Input("output", "expected text or json, got %q", o.output)
	}
	if o.yes && o.dryRun {
		return errs.Input("yes", "--yes deletes and --dry-run does not (expected one of them)")
	}
	if !slices.Contains(prune.APIs, prune.API(o.api)) {
		return errs.Input("api", "expected one of %v, got %q", prune.APIs, o.api)
	}
	p, err := o.readPolicy(cmd)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	reg, err := hostedAPIs(environ.OS(), prune.API(o.api)).Registry(&prune.OCI{
		Keychain:  registry.NewKeychain(nil, nil),
		Transport: registry.RetryPolicy{MaxTime: registry.DefaultRetryTime, Log: stderr}.Transport(nil),
	})
	if err != nil {
		return errs.WrapInput("api", err, "choosing the registries' API")
	}
	plan, runErr := prune.Run(cmd.Context(), prune.Options{
		Policy:   p,
		Registry: reg,
		Now:      time.Now,
		Yes:      o.yes,
		Journal:  o.journal,
		Log:      stderr,
	})
	if plan == nil {
		return runErr
	}
	if o.output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return err
		}
		return runErr
	}
	if err := plan.WriteText(cmd.OutOrStdout(), o.yes && runErr == nil); err != nil {
		return err
	}
	return runErr
}

// hostedAPIs reads the hosted registries' API roots and tokens from
// the environment: GitHub's as in Actions, GitLab's as in a GitLab job.
func hostedAPIs(env environ.Env, api prune.API) prune.Hosted {
	h := prune.Hosted{
		API:          api,
		GitHubAPIURL: cmp.Or(env.Get("GITHUB_API_URL"), "https://api.github.com"),
		GitHubToken:  cmp.Or(env.Get("SLIPWAY_GITHUB_TOKEN"), env.Get("GITHUB_TOKEN")),
		GitLabAPIURL: cmp.Or(env.Get("CI_API_V4_URL"), "https://gitlab.com/api/v4"),
		GitLabToken:  env.Get("SLIPWAY_GITLAB_TOKEN"),
	}
	if h.GitLabToken == "" {
		h.GitLabToken = env.Get("CI_JOB_TOKEN")
		h.GitLabJobToken = h.GitLabToken != ""
	}
	if r := env.Get("CI_REGISTRY"); r != "" {
		h.GitLabRegistries = []string{r}
	}
	return h
}

// readPolicy is the --policy file, or the rule the flags give; not both.
func (o *pruneOptions) readPolicy(cmd *cobra.Command) (*prune.Policy, error) {
	flagRule := false
	for _, f := range []string{"repository", "include", "exclude", "keep-last", "order", "keep-within"} {
		flagRule = flagRule || cmd.Flags().Changed(f)
	}
	if o.policy != "" {
		if flagRule {
			return nil, errs.Input("policy", "--policy and the rule flags (--repository, --keep-last, ...) both give the policy (expected one of them)")
		}
		data, err := os.ReadFile(o.policy)
		if err != nil {
			return nil, errs.WrapInput("policy", err, "reading %s", strconv.Quote(o.policy))
		}
		return prune.ReadPolicy(data)
	}
	if !flagRule {
		return nil, errs.Input("policy", "no policy (expected --policy <file> or --repository <pattern> with what to keep)")
	}
	if o.within != "" {
		d, err := prune.ParseDuration(o.within)
		if err != nil {
			return nil, errs.Input("keep-within", "%v", err)
		}
		o.rule.Within = d
	}
	p := &prune.Policy{Rules: []prune.Rule{o.rule}}
	return p, p.Validate()
}
