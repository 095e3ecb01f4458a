// Package prepare is the edge where slipway's inputs become a plan, as
// ko's resolver.go turns flags into options: it loads and validates the
// configuration, reads the CI context, computes the metadata and
// translates all three into a pipeline.Plan. Below it, the stages get
// plans and options, never the configuration.
package prepare

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Options are the inputs of Run.
type Options struct {
	Flags map[string]string // inputs given as flags (config.FlagValues)
	Env   config.Env        // the process environment
	// Offline forbids contacting any API (--dry-run, and --offline).
	Offline bool
	// MetaOnly computes the metadata only: no build checks (context,
	// Dockerfile), no plan.
	MetaOnly bool
	// Merge prepares slipway merge: no build context is needed.
	Merge bool
	// Promote prepares slipway promote: no build context either.
	Promote bool
	// Log receives warnings and GitHub workflow commands (::add-mask::):
	// stderr, so that stdout carries results only.
	Log        io.Writer
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now. SOURCE_DATE_EPOCH wins over it.
	Now func() time.Time
}

// Prepared is everything computed before the first stage runs.
type Prepared struct {
	Config   *config.Loaded
	Provider ci.Provider
	CI       *ci.Context
	Meta     *meta.Result
	Plan     *pipeline.Plan
}

// Run loads and validates the configuration, reads the CI context,
// computes tags, labels and annotations, and plans the run. Bad input is
// an *errs.InputError; nothing has been contacted but, unless Offline, the
// CI platform's API for repository metadata.
func Run(ctx context.Context, o Options) (*Prepared, error) {
	warn := func(msg string) { io.WriteString(o.Log, "warning: "+msg+"\n") }
	cfg, err := config.Load(config.Options{Flags: o.Flags, Env: o.Env, Warn: warn})
	if err != nil {
		return nil, err
	}
	copts := ci.Options{
		Env: o.Env, GitHubToken: cfg.GitHubToken, ContextDir: cfg.Context,
		OutputDir: cfg.OutputDir, HTTPClient: o.HTTPClient, Offline: o.Offline, Stdout: o.Log,
		NoCheckout: o.Promote,
	}
	var prov ci.Provider
	if cfg.CI == "auto" {
		prov = ci.Detect(copts)
	} else if prov, err = ci.New(cfg.CI, copts); err != nil {
		return nil, err
	}
	// Mask before anything else can print a value.
	for _, s := range cfg.SecretValues() {
		prov.Outputs().Mask(s)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !o.MetaOnly {
		if !o.Merge && !o.Promote {
			if err := cfg.ValidateBuild(); err != nil {
				return nil, err
			}
		}
		if err := cfg.CheckPaths(); err != nil {
			return nil, err
		}
		cfg.DropUnusableCache(warn)
	}
	cictx, err := prov.Context(ctx, warn)
	if err != nil {
		return nil, err
	}
	images := cfg.Images
	if len(images) == 0 && cictx.DefaultImage != "" {
		images = []string{cictx.DefaultImage}
	}
	spec, err := meta.Parse(meta.Inputs{
		Images: images, Tags: cfg.Tags, Flavor: cfg.Flavor, Labels: cfg.Labels, Annotations: cfg.Annotations,
		SepTags: cfg.SepTags, SepLabels: cfg.SepLabels, SepAnnotations: cfg.SepAnnotations,
		ShortSHALength: cfg.Metadata.ShortSHALength, PRHeadSHA: cfg.Metadata.PRHeadSHA,
		AnnotationLevels: cfg.Metadata.AnnotationLevels,
	})
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now.IsZero() {
		if o.Now != nil {
			now = o.Now()
		} else {
			now = time.Now()
		}
	}
	md, err := spec.Compute(cictx, now)
	if err != nil {
		return nil, err
	}
	for _, w := range md.Warnings {
		warn(w)
	}
	if o.MetaOnly {
		// slipway meta needs no plan: no images, no secrets required.
		return &Prepared{Config: cfg, Provider: prov, CI: cictx, Meta: md}, nil
	}
	in := Inputs{Config: cfg, CI: cictx, Meta: md, Merge: o.Merge, Promote: o.Promote}
	if cictx.PRNumber != 0 {
		in.BaseTag = branchTag(spec, cictx, now, cictx.BaseRef)
	}
	if cictx.Provider == ci.NameGitLab {
		in.DefaultBranchTag = branchTag(spec, cictx, now, cictx.Repository.DefaultBranch)
	}
	plan, err := Plan(in)
	if err != nil {
		return nil, err
	}
	return &Prepared{Config: cfg, Provider: prov, CI: cictx, Meta: md, Plan: plan}, nil
}

// branchTag is the tag the rules give a push of branch in the first
// repository: that branch's image (a pull request's base branch, which
// it is compared with; the default branch's); nil when the rules give
// such a push no tag. A tag that varies with the commit (sha-…) is not
// the branch's: the rules are evaluated for two commits and the first tag
// both give is taken.
func branchTag(spec *meta.Spec, c *ci.Context, now time.Time, branch string) *name.Tag {
	if branch == "" {
		return nil
	}
	names := func(sha string) ([]string, []string) {
		b := *c
		b.Event, b.EventName, b.Ref, b.Branch, b.Tag, b.SHA = ci.EventBranchPush, "push", "refs/heads/"+branch, branch, "", sha
		b.PRNumber, b.PRHeadSHA, b.BaseRef, b.Fork = 0, "", "", false
		md, err := spec.Compute(&b, now)
		if err != nil {
			return nil, nil
		}
		return md.Images, md.TagNames
	}
	images, one := names(strings.Repeat("1", 40))
	_, other := names(strings.Repeat("2", 40))
	if len(images) == 0 {
		return nil
	}
	for _, t := range one {
		if slices.Contains(other, t) {
			if tag, err := name.NewTag(images[0] + ":" + t); err == nil {
				return &tag
			}
		}
	}
	return nil
}
