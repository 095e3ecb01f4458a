// Package promote is slipway promote's source: it reads a digest another
// run published, verifies its signatures and attestations by the identity
// given, and judges its policy on its signed vulnerability report (when
// it is recent enough) or on a fresh scan of it in its registry. The copy,
// the verification where it lands and the tags are the pipeline's, as for
// a run.
//
// It is light: the signature checks and Trivy come in through small
// interfaces that internal/stages fills.
package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/compare"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
)

// Verifier verifies the source's signatures and attestations in its
// repository by the plan's identity; an unsigned source, or one signed by
// someone else, is an error.
type Verifier interface {
	VerifySource(ctx context.Context, p *pipeline.SignPlan, ref name.Digest) (*pipeline.SignResult, []compare.Attestation, error)
}

// Judge applies the scan plan's policy and gate to a signed Trivy report
// of the platforms, as a scan of them would.
type Judge interface {
	Judge(ctx context.Context, p *pipeline.ScanPlan, report []byte, platforms []pipeline.PlatformImage, scanner string, scannedAt time.Time) (*pipeline.ScanResult, error)
}

// Stage is slipway promote's pipeline.SourceReader and pipeline.Scanner.
type Stage struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	Verifier  Verifier
	Judge     Judge
	// Remote scans the source in its registry when its signed report is
	// missing or too old.
	Remote compare.RemoteScanner
	Log    io.Writer
	// Now is the clock (time.Now when nil): a report's age.
	Now func() time.Time

	plan *pipeline.PromotePlan
	atts []compare.Attestation // the source's, verified
}

func (s *Stage) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "slipway: promote: "+format+"\n", args...)
	}
}

func (s *Stage) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Resolve implements pipeline.SourceReader: the source's digest and its
// platform images, from its manifests.
func (s *Stage) Resolve(ctx context.Context, p *pipeline.PromotePlan) (*pipeline.BuildResult, error) {
	s.plan = p
	start := s.now()
	d, pms, err := registry.Platforms(ctx, s.Keychain, s.Transport, p.Source)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, err
	}
	res := &pipeline.BuildResult{Digest: h, Platforms: []pipeline.PlatformImage{}, Metadata: map[string]any{"image.name": p.Source.Context().Name()}}
	for _, pm := range pms {
		size := pm.Manifest.Config.Size
		for _, l := range pm.Manifest.Layers {
			size += l.Size
		}
		res.Platforms = append(res.Platforms, pipeline.PlatformImage{Platform: pm.Platform, Digest: pm.Digest, Config: pm.Manifest.Config.Digest, Size: size})
	}
	res.Duration = s.now().Sub(start)
	s.logf("%s: %d platform images", p.Source, len(res.Platforms))
	return res, nil
}

// VerifySource implements pipeline.SourceReader.
func (s *Stage) VerifySource(ctx context.Context, p *pipeline.PromotePlan, sp *pipeline.SignPlan, _ *pipeline.BuildResult) (*pipeline.SignResult, error) {
	res, atts, err := s.Verifier.VerifySource(ctx, sp, p.Source)
	if err != nil {
		return nil, err
	}
	s.atts = atts
	s.logf("%s: signed by %s; %d digests signed, %d attestations", p.Source, res.Identity, len(res.Signed), len(res.Attestations))
	return res, nil
}

// vulnPredicate is cosign's vulnerability predicate, as slipway attests
// it: Trivy's JSON report and when the scan ran.
type vulnPredicate struct {
	Scanner struct {
		URI     string          `json:"uri"`
		Version string          `json:"version"`
		Result  json.RawMessage `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  time.Time `json:"scanStartedOn"`
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

// Scan implements pipeline.Scanner for the source: its signed
// vulnerability report judged by the plan's policy when the report is at
// most the plan's age, else a fresh scan of it in its registry.
func (s *Stage) Scan(ctx context.Context, sp *pipeline.ScanPlan, src *pipeline.BuildResult) (*pipeline.ScanResult, error) {
	if s.plan == nil || src == nil {
		return nil, fmt.Errorf("nothing to judge: the source was not read")
	}
	why := "it has no signed vulnerability report"
	for _, a := range s.atts {
		if a.PredicateType != compare.VulnPredicateType {
			continue
		}
		var vp vulnPredicate
		if err := json.Unmarshal(a.Predicate, &vp); err != nil {
			why = fmt.Sprintf("its signed vulnerability report cannot be read (%v)", err)
			continue
		}
		age := s.now().Sub(vp.Metadata.ScanFinishedOn)
		if age > s.plan.ReportMaxAge {
			why = fmt.Sprintf("its signed vulnerability report is %s old, more than report-max-age %s", age.Round(time.Minute), s.plan.ReportMaxAge)
			continue
		}
		// As slipway writes it: pkg:github/aquasecurity/trivy@v0.70.0.
		scanner := vp.Scanner.URI
		if _, tool, ok := strings.Cut(strings.Split(scanner, "@")[0], "pkg:github/aquasecurity/"); ok {
			scanner = tool + " v" + strings.TrimPrefix(vp.Scanner.Version, "v")
		}
		res, err := s.Judge.Judge(ctx, sp, vp.Scanner.Result, src.Platforms, scanner, vp.Metadata.ScanStartedOn)
		if err != nil {
			return nil, fmt.Errorf("judging the signed vulnerability report of %s: %w", s.plan.Source, err)
		}
		res.Source = pipeline.FromAttestations
		s.logf("%s: judged on its signed vulnerability report of %s", s.plan.Source, vp.Metadata.ScanFinishedOn.UTC().Format(time.RFC3339))
		return res, nil
	}
	s.logf("%s: %s; scanning it from its registry", s.plan.Source, why)
	var platforms []string
	for _, pi := range src.Platforms {
		platforms = append(platforms, pi.Platform)
	}
	res, err := s.Remote.ScanRemote(ctx, sp, s.plan.Source.String(), platforms)
	if err != nil {
		return nil, fmt.Errorf("scanning %s from its registry (%s): %w", s.plan.Source, why, err)
	}
	res.Source = pipeline.FromRemoteScan
	return res, nil
}

var (
	_ pipeline.SourceReader = (*Stage)(nil)
	_ pipeline.Scanner      = (*Stage)(nil)
)
