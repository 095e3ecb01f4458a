// Package stages puts the real stage implementations behind the
// pipeline's interfaces: BuildKit for the build, go-containerregistry for
// tags, the CI platform for the report. It is the one place that links
// the heavy libraries into the binary; packages that do not import it
// keep their test binaries small.
package stages

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/slipway-ci/slipway/internal/build"
	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/report"
	"github.com/slipway-ci/slipway/internal/scan"
)

// CanSign says whether New's stages include a signer: cosign signing is
// the next stage to land. Plans are made knowing it (pipeline.Inputs).
const CanSign = false

// New returns the stages of a real run of prep. log receives progress.
func New(prep *pipeline.Prepared, log io.Writer) (pipeline.Stages, error) {
	// BuildKit's client and containerd's content store log through
	// logrus (an fsverity probe warns on every layout); slipway reports
	// their errors itself.
	logrus.SetLevel(logrus.ErrorLevel)
	cfg := prep.Config
	logins, err := cfg.RegistryLogins()
	if err != nil {
		return pipeline.Stages{}, err
	}
	var creds []registry.Credential
	for _, l := range logins {
		creds = append(creds, registry.Credential{Registry: l.Host, Username: l.Username, Password: l.Password, Source: "registry-auth input"})
	}
	keychain := registry.NewKeychain(append(creds, prep.CI.Credentials...), nil)
	out := prep.Provider.Outputs()
	for _, s := range keychain.Secrets() {
		out.Mask(s)
	}
	gha, _ := cfg.GHACache()
	sel := build.Selection{
		Builder:       cfg.Builder,
		TLS:           build.TLS{CA: cfg.BuilderTLSCA, Cert: cfg.BuilderTLSCert, Key: cfg.BuilderTLSKey, ServerName: cfg.BuilderTLSName},
		DockerHost:    cfg.DockerHost,
		BuildkitImage: cfg.BuildkitImage,
		Log:           log,
	}
	var builder pipeline.Builder = &build.Stage{
		Connect: sel.Connect, Keychain: keychain, Pusher: &registry.Publisher{Keychain: keychain},
		GHA: gha, Progress: log,
	}
	if g, ok := out.(ci.Grouper); ok {
		builder = grouped{builder, g}
	}
	return pipeline.Stages{
		Builder:  builder,
		Scanner:  &scan.Stage{OutputDir: cfg.OutputDir, Log: log, RunnerTemp: cfg.RunnerTemp(), ImageName: firstOr(prep.Plan.Publish.Repositories, "")},
		Signer:   unavailable{"cosign signing"},
		Copier:   &registry.Copier{Keychain: keychain},
		Tagger:   &registry.Tagger{Keychain: keychain},
		Notifier: &report.Notifier{Outputs: out, Log: log},
	}, nil
}

// grouped folds the build's progress into a collapsible group (GitHub's
// ::group::), a decorator around any Builder.
type grouped struct {
	pipeline.Builder
	g ci.Grouper
}

func (b grouped) Build(ctx context.Context, p *pipeline.BuildPlan, pub *pipeline.PublishPlan) (*pipeline.BuildResult, error) {
	b.g.Group("slipway: build " + p.File)
	defer b.g.EndGroup()
	return b.Builder.Build(ctx, p, pub)
}

// unavailable is a stage this version of slipway does not have yet: it
// fails the run (before any tag moves) saying how to go without it.
type unavailable struct{ what string }

var errUnavailable = errors.New("not in this version of slipway")

func (u unavailable) err(input string) error {
	return fmt.Errorf("%s is %w; set %s: false to run without it", u.what, errUnavailable, input)
}

func (u unavailable) Sign(context.Context, *pipeline.SignPlan, string, *pipeline.BuildResult, *pipeline.ScanResult) (*pipeline.SignResult, error) {
	return nil, u.err("sign")
}

func (u unavailable) Verify(context.Context, *pipeline.SignPlan, []string, *pipeline.BuildResult, *pipeline.SignResult) error {
	return u.err("sign")
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
