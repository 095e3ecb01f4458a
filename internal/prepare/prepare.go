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
	"time"

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
		if !o.Merge {
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
	plan, err := Plan(Inputs{Config: cfg, CI: cictx, Meta: md, Merge: o.Merge})
	if err != nil {
		return nil, err
	}
	return &Prepared{Config: cfg, Provider: prov, CI: cictx, Meta: md, Plan: plan}, nil
}
