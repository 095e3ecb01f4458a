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
	"net/http"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	rekor "github.com/sigstore/rekor/pkg/client"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sirupsen/logrus"

	"github.com/slipway-ci/slipway/internal/build"
	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/compare"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/partial"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/prepare"
	"github.com/slipway-ci/slipway/internal/promote"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/report"
	"github.com/slipway-ci/slipway/internal/scan"
	"github.com/slipway-ci/slipway/internal/sign"
)

// New returns the stages of a real run of prep. log receives progress.
func New(prep *prepare.Prepared, log io.Writer) (pipeline.Stages, error) {
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
	for _, c := range prep.CI.Credentials {
		creds = append(creds, registry.Credential{Registry: c.Registry, Username: c.Username, Password: c.Password, Source: c.Source})
	}
	keychain := registry.NewKeychain(creds, nil)
	out := prep.Provider.Outputs()
	for _, s := range keychain.Secrets() {
		out.Mask(s)
	}
	retryTime, err := cfg.RetryTime()
	if err != nil {
		return pipeline.Stages{}, err
	}
	// One transport, one retry policy, for every registry request.
	tr := registry.RetryPolicy{MaxTime: retryTime, Log: log}.Transport(nil)
	notifier := &report.Notifier{Outputs: out, Log: log, CI: prep.CI, Meta: prep.Meta, Comment: prep.Plan.Report.CommentMode, GitLabToken: cfg.GitLabToken}
	if prep.Plan.Promote != nil {
		src, verifier, err := newPromoter(prep, keychain, tr, log)
		if err != nil {
			return pipeline.Stages{}, err
		}
		return pipeline.Stages{
			Source:   src,
			Scanner:  src,
			Signer:   verifier,
			Copier:   &registry.Copier{Keychain: keychain, Transport: tr},
			Tagger:   &registry.Tagger{Keychain: keychain, Transport: tr},
			Notifier: notifier,
		}, nil
	}
	signer, err := newSigner(prep, keychain, tr, log)
	if err != nil {
		return pipeline.Stages{}, err
	}
	gha, _ := cfg.GHACache()
	sel := build.Selection{
		Builder:       cfg.Builder,
		TLS:           build.TLS{CA: cfg.BuilderTLSCA, Cert: cfg.BuilderTLSCert, Key: cfg.BuilderTLSKey, ServerName: cfg.BuilderTLSName},
		DockerHost:    cfg.DockerHost,
		BuildkitImage: cfg.BuildkitImage,
		Log:           log,
	}
	bs := &build.Stage{
		Connect: sel.Connect, Keychain: keychain, Pusher: uploads{&registry.Publisher{Keychain: keychain, Transport: tr}},
		GHA: build.GHACache(gha), Progress: log,
	}
	var builder pipeline.Builder = bs
	if g, ok := out.(ci.Grouper); ok {
		builder = grouped{builder, g}
	}
	var scanner pipeline.Scanner = &scan.Stage{OutputDir: cfg.OutputDir, Log: log, RunnerTemp: cfg.RunnerTemp(), ImageName: imageName(prep.Plan.Publish.Repositories)}
	if prep.Plan.Merge {
		// slipway merge builds and scans nothing: it reads the partial
		// runs' records.
		m := &partial.Merger{Keychain: keychain, Transport: tr, OutputDir: cfg.OutputDir, Log: log}
		builder, scanner = m, m
	}
	cmp := &compare.Stage{
		Keychain: keychain, Transport: tr, Log: log,
		// The base's reports apart from the run's.
		Remote: &scan.Stage{OutputDir: filepath.Join(cfg.OutputDir, "compare-base"), Log: log, RunnerTemp: cfg.RunnerTemp()},
	}
	if cmp.Attestations, err = baseReader(prep, signer, keychain, tr, log); err != nil {
		return pipeline.Stages{}, err
	}
	return pipeline.Stages{
		Builder:  builder,
		Scanner:  scanner,
		Comparer: cmp,
		Signer:   signer,
		Copier:   &registry.Copier{Keychain: keychain, Transport: tr},
		Tagger:   &registry.Tagger{Keychain: keychain, Transport: tr},
		Recorder: &partial.Recorder{Keychain: keychain, Transport: tr, RunURL: prep.Plan.CI.RunURL},
		Notifier: notifier,
		Caller:   bs,
		Loader:   build.Loader{},
	}, nil
}

// uploads starts the build's push with the registry's Publisher.
// attested reads the base image's attestations for compare, verified
// with the run's signing key.
type attested struct {
	s    *sign.Stage
	plan *pipeline.SignPlan
}

func (a attested) Attested(ctx context.Context, ref name.Digest) ([]compare.Attestation, error) {
	atts, err := a.s.Attested(ctx, a.plan, ref)
	if errors.Is(err, sign.ErrNotSigned) {
		return nil, fmt.Errorf("%w: %w", compare.ErrNotSigned, err)
	}
	if err != nil {
		return nil, err
	}
	return attestations(atts), nil
}

func attestations(atts []sign.Attested) []compare.Attestation {
	out := make([]compare.Attestation, 0, len(atts))
	for _, at := range atts {
		out = append(out, compare.Attestation{PredicateType: at.PredicateType, Predicate: at.Predicate, Platform: at.Platform})
	}
	return out
}

// sourceVerifier verifies slipway promote's source by the identity given.
type sourceVerifier struct {
	s *sign.Stage
	v sign.Verifier
}

func (a sourceVerifier) VerifySource(ctx context.Context, p *pipeline.SignPlan, ref name.Digest) (*pipeline.SignResult, []compare.Attestation, error) {
	res, atts, err := a.s.VerifySource(ctx, p, ref, a.v)
	if err != nil {
		return nil, nil, err
	}
	return res, attestations(atts), nil
}

// newPromoter is slipway promote's source stage and the sign stage that
// verifies the copies: no signing identity, only whom the source's
// signatures must be by.
func newPromoter(prep *prepare.Prepared, keychain *registry.Keychain, tr http.RoundTripper, log io.Writer) (*promote.Stage, *sign.Stage, error) {
	cfg, pr := prep.Config, prep.Plan.Promote
	st := &sign.Stage{Keychain: keychain, Transport: tr, OutputDir: cfg.OutputDir, Log: log}
	if cfg.TrustedRoot != "" {
		st.Trust = sign.TrustedRootFile(cfg.TrustedRoot)
	}
	var v sign.Verifier
	switch prep.Plan.Sign.Mode {
	case mode.Key:
		key, err := cfg.SigningKey()
		if err != nil {
			return nil, nil, err
		}
		if v, err = sign.KeyVerifier(context.Background(), sign.Key(key)); err != nil {
			return nil, nil, errs.WrapInput("cosign-key", err, "cannot use the key %q (expected a public key, or a cosign private key and its password in COSIGN_PASSWORD)", key.Ref)
		}
	case mode.Keyless:
		v = sign.Verifier{Subject: pr.CertificateIdentity, Issuer: pr.CertificateIssuer}
		if st.Trust == nil {
			st.Trust = sign.PublicGood()
		}
	}
	if sp := prep.Plan.Sign; st.Trust == nil && sp.TlogUpload && sp.Format.Bundle() {
		st.Trust = sign.PublicGood()
	}
	scanner := &scan.Stage{OutputDir: cfg.OutputDir, Log: log, RunnerTemp: cfg.RunnerTemp(), ImageName: pr.Source.Context().Name()}
	return &promote.Stage{
		Keychain: keychain, Transport: tr, Log: log,
		Verifier: sourceVerifier{st, v}, Judge: scanner, Remote: scanner,
	}, st, nil
}

type uploads struct{ p *registry.Publisher }

func (u uploads) StartUpload(ctx context.Context, dir string, repo name.Repository) (build.Upload, error) {
	up, err := u.p.StartUpload(ctx, dir, repo)
	if err != nil {
		return nil, err
	}
	return up, nil
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

// newSigner is the sign stage for the plan's mode: a key (file, env://,
// KMS) or keyless (an OIDC token from SIGSTORE_ID_TOKEN or GitHub's token
// endpoint, a certificate from Fulcio).
func newSigner(prep *prepare.Prepared, keychain *registry.Keychain, tr http.RoundTripper, log io.Writer) (*sign.Stage, error) {
	cfg := prep.Config
	st := &sign.Stage{
		Keychain: keychain, Transport: tr, OutputDir: cfg.OutputDir, Log: log,
		Rekor: func(url string) (*rekorclient.Rekor, error) { return rekor.GetRekorClient(url) },
	}
	if cfg.TrustedRoot != "" {
		// A private Sigstore: its Fulcio CA, Rekor and CT log keys.
		st.Trust = sign.TrustedRootFile(cfg.TrustedRoot)
	}
	switch prep.Plan.Sign.Mode {
	case mode.Key:
		id, err := keyIdentity(cfg)
		if err != nil {
			return nil, err
		}
		st.Identity = id
	case mode.Keyless:
		o := cfg.OIDCSource()
		tok := sign.StaticToken(o.Token)
		if o.Token == "" {
			tok = sign.GitHubToken(o.RequestURL, o.RequestToken, nil)
		}
		st.Identity = sign.Keyless{FulcioURL: cfg.FulcioURL, Token: tok}
		if st.Trust == nil {
			st.Trust = sign.PublicGood()
		}
	}
	if sp := prep.Plan.Sign; st.Trust == nil && sp.TlogUpload && sp.Format.Bundle() {
		// A bundle's log entry is checked against the log's key in a
		// trust root: the public instance's, through TUF.
		st.Trust = sign.PublicGood()
	}
	return st, nil
}

// imageName is the repository the scan's reports name the image by: the
// first one pushed to, or none.
// keyIdentity is the cosign-key input as a signing identity. A key file
// or env:// PEM is decrypted now, before anything is built: a wrong
// COSIGN_PASSWORD is bad input. A KMS key is reached when used.
func keyIdentity(cfg *config.Loaded) (sign.Identity, error) {
	key, err := cfg.SigningKey()
	if err != nil {
		return nil, err
	}
	var id sign.Identity = sign.Key(key) // the resolved input, translated at the edge
	if key.PEM != nil {
		signer, err := id.Signer(context.Background())
		if err != nil {
			return nil, errs.WrapInput("cosign-key", err, "cannot use the key %q (expected a cosign private key and its password in COSIGN_PASSWORD)", key.Ref)
		}
		id = sign.Resolved(signer, id.Describe())
	}
	return id, nil
}

// baseReader reads the compared base image's attestations with the
// cosign-key's public half: through the signer's stage when the run
// signs with it, else a stage of its own (a pull request that pushes,
// so signs, nothing still verifies the base's attestations with the
// key). Nil without a key: the base is scanned remotely.
func baseReader(prep *prepare.Prepared, signer *sign.Stage, keychain *registry.Keychain, tr http.RoundTripper, log io.Writer) (compare.AttestationReader, error) {
	cfg := prep.Config
	if cfg.CosignKey == "" || !prep.Plan.Compare.Enabled {
		return nil, nil
	}
	plan := pipeline.SignPlan{Enabled: true, Mode: mode.Key, Key: cfg.CosignKey, TlogUpload: cfg.TlogUpload, TrustedRoot: cfg.TrustedRoot}
	if prep.Plan.Sign.Mode == mode.Key {
		return attested{signer, &plan}, nil
	}
	id, err := keyIdentity(cfg)
	if err != nil {
		return nil, err
	}
	st := &sign.Stage{Keychain: keychain, Transport: tr, Log: log, Identity: id}
	if cfg.TrustedRoot != "" {
		st.Trust = sign.TrustedRootFile(cfg.TrustedRoot)
	}
	return attested{st, &plan}, nil
}

func imageName(repos []name.Repository) string {
	if len(repos) == 0 {
		return ""
	}
	return repos[0].Name()
}
