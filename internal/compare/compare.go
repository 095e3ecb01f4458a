// Package compare compares the built image with a base image (the base
// branch's, or compare-to): vulnerabilities new, fixed and unchanged,
// packages added, removed, upgraded and downgraded, compressed size and
// layers, per platform. The base's facts come from its own attestations
// (slipway's vulnerability report and CycloneDX SBOMs, verified with this
// run's key: manifests and attestations are read, none of its layers),
// else from a remote scan with this run's Trivy and DB. A base that
// cannot be read is reported, never a failure.
package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/severity"
)

// Predicate types of the attestations slipway reads.
const (
	// VulnPredicateType is cosign's vulnerability report predicate
	// (attestation.CosignVulnProvenanceV01), whose scanner.result is
	// Trivy's JSON report.
	VulnPredicateType = "https://cosign.sigstore.dev/attestation/vuln/v1"
	// CycloneDXPredicateType is in-toto's CycloneDX SBOM predicate.
	CycloneDXPredicateType = "https://cyclonedx.org/bom"
)

// Annotations of an image's base image (OCI image spec), which the
// comparison reports when both images carry them.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Attestation is one verified attestation of the base.
type Attestation struct {
	PredicateType string
	Predicate     json.RawMessage
	// Platform is the platform an SBOM attestation on an index is of.
	Platform string
}

// ErrNotSigned says the base has attestations, but this run's signing
// identity verifies none of them.
var ErrNotSigned = errors.New("not attested by this run's signing key")

// AttestationReader reads the attestations on ref that this run's
// signing identity verifies: none (and no error) when ref has none, an
// error wrapping ErrNotSigned when someone else attested it.
type AttestationReader interface {
	Attested(ctx context.Context, ref name.Digest) ([]Attestation, error)
}

// RemoteScanner scans an image in a registry, by reference.
type RemoteScanner interface {
	ScanRemote(ctx context.Context, p *pipeline.ScanPlan, ref string, platforms []string) (*pipeline.ScanResult, error)
}

// Stage implements pipeline.Comparer.
type Stage struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	// Attestations is nil when the run does not sign with a key: the
	// base is then scanned remotely.
	Attestations AttestationReader
	Remote       RemoteScanner
	Log          io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// facts are what is known of one image per platform.
type facts struct {
	findings map[string][]pipeline.Finding // by platform
	packages map[string][]pipeline.Package // by platform; nil: unknown
}

// image is an image's platforms: their manifests, by platform.
type image struct {
	ref       name.Digest
	manifests map[string]platformManifest
}

type platformManifest struct {
	digest   v1.Hash
	manifest *v1.Manifest
}

func (s *Stage) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

func (s *Stage) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Compare implements pipeline.Comparer.
func (s *Stage) Compare(ctx context.Context, c *pipeline.ComparePlan, sp *pipeline.ScanPlan, built *pipeline.BuildResult, scanned *pipeline.ScanResult) (*pipeline.CompareResult, error) {
	start := s.now()
	res := &pipeline.CompareResult{Base: c.Base.String(), New: []pipeline.Finding{}, Fixed: []pipeline.Finding{}, NewCounts: map[severity.Severity]int{}}
	defer func() { res.Duration = s.now().Sub(start) }()
	if built == nil || scanned == nil {
		res.Note = "nothing was built and scanned to compare"
		return res, nil
	}
	base, err := s.resolve(ctx, c.Base)
	if err != nil {
		res.Note = err.Error()
		s.logf("slipway: compare: %s; no comparison", res.Note)
		return res, nil
	}
	res.Image = base.ref.String()
	head, err := headImage(built)
	if err != nil {
		return nil, err
	}
	headFacts, err := scannedFacts(scanned)
	if err != nil {
		return nil, err
	}
	var platforms []string
	for _, pi := range built.Platforms {
		if _, ok := base.manifests[pi.Platform]; ok {
			platforms = append(platforms, pi.Platform)
		}
	}
	if len(platforms) == 0 {
		res.Note = fmt.Sprintf("%s has none of the built platforms", base.ref)
		s.logf("slipway: compare: %s; no comparison", res.Note)
		return res, nil
	}
	baseFacts, source, note, err := s.baseFacts(ctx, sp, base, platforms)
	if err != nil {
		res.Note = note
		s.logf("slipway: compare: %s; no comparison", note)
		return res, nil
	}
	res.Compared, res.Source, res.Note = true, source, note
	for _, pi := range built.Platforms {
		pc := pipeline.PlatformCompare{Platform: pi.Platform, Digest: pi.Digest.String(), Counts: map[severity.Severity]int{}, BaseCounts: map[severity.Severity]int{},
			New: []pipeline.Finding{}, Fixed: []pipeline.Finding{}, NewLayers: []string{}}
		hm := head.manifests[pi.Platform]
		pc.Size, pc.Layers, pc.FROM = size(hm.manifest), len(hm.manifest.Layers), from(hm.manifest)
		hf := headFacts.findings[pi.Platform]
		bm, ok := base.manifests[pi.Platform]
		if !ok {
			// A platform the base lacks: every finding of it is new (the
			// new gate judges them all), its size all added.
			pc.Missing, pc.New, pc.Counts = true, append([]pipeline.Finding{}, hf...), pipeline.CountBySeverity(hf)
			res.SizeDelta += pc.Size
			res.Platforms = append(res.Platforms, pc)
			continue
		}
		pc.BaseDigest, pc.BaseSize, pc.BaseLayers, pc.BaseFROM = bm.digest.String(), size(bm.manifest), len(bm.manifest.Layers), from(bm.manifest)
		baseLayers := map[v1.Hash]bool{}
		for _, l := range bm.manifest.Layers {
			baseLayers[l.Digest] = true
		}
		for _, l := range hm.manifest.Layers {
			if !baseLayers[l.Digest] {
				pc.NewLayers = append(pc.NewLayers, l.Digest.String())
			}
		}
		res.SizeDelta += pc.Size - pc.BaseSize
		bf := baseFacts.findings[pi.Platform]
		pc.New, pc.Fixed, pc.Unchanged = diffFindings(hf, bf)
		pc.Counts, pc.BaseCounts = pipeline.CountBySeverity(hf), pipeline.CountBySeverity(bf)
		if hp, bp := headFacts.packages[pi.Platform], baseFacts.packages[pi.Platform]; hp != nil && bp != nil {
			pc.Packages = DiffPackages(bp, hp)
		}
		res.Platforms = append(res.Platforms, pc)
	}
	res.New, res.Fixed = distinct(res.Platforms, func(p pipeline.PlatformCompare) []pipeline.Finding { return p.New }),
		distinct(res.Platforms, func(p pipeline.PlatformCompare) []pipeline.Finding { return p.Fixed })
	res.NewCounts = pipeline.CountBySeverity(res.New)
	s.logf("slipway: compared with %s (%s): %d new, %d fixed vulnerabilities, %+d bytes", base.ref, source, len(res.New), len(res.Fixed), res.SizeDelta)
	return res, nil
}

// resolve reads the base's manifests by platform: manifests only, no
// layer.
func (s *Stage) resolve(ctx context.Context, ref name.Reference) (*image, error) {
	d, pms, err := registry.Platforms(ctx, s.Keychain, s.Transport, ref)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil, fmt.Errorf("%s does not exist (not published yet?)", ref)
	case err != nil:
		return nil, err
	}
	img := &image{ref: d, manifests: map[string]platformManifest{}}
	for _, pm := range pms {
		img.manifests[pm.Platform] = platformManifest{digest: pm.Digest, manifest: pm.Manifest}
	}
	return img, nil
}

// baseFacts are the base's findings and packages: from its attestations
// when this run's key verifies them, else from a remote scan. note says
// which, and why not the attestations.
func (s *Stage) baseFacts(ctx context.Context, sp *pipeline.ScanPlan, base *image, platforms []string) (*facts, string, string, error) {
	why := "it has no slipway attestations"
	if s.Attestations == nil {
		why = "this run signs with no key to verify its attestations with"
	} else {
		atts, err := s.Attestations.Attested(ctx, base.ref)
		switch {
		case errors.Is(err, ErrNotSigned):
			why = "its attestations are not signed by this run's key"
			s.logf("slipway: compare: %s: %v", base.ref, err)
		case err != nil:
			why = fmt.Sprintf("its attestations cannot be read (%v)", err)
		case len(atts) > 0:
			f, err := attestedFacts(atts, base)
			if err == nil {
				return f, pipeline.FromAttestations, "", nil
			}
			why = err.Error()
		}
	}
	s.logf("slipway: compare: %s: %s; scanning it from the registry", base.ref, why)
	r, err := s.Remote.ScanRemote(ctx, sp, base.ref.String(), platforms)
	if err != nil {
		return nil, "", fmt.Sprintf("%s: %s, and the remote scan failed: %v", base.ref, why, err), err
	}
	f, err := scannedFacts(r)
	if err != nil {
		return nil, "", fmt.Sprintf("%s: reading its scan: %v", base.ref, err), err
	}
	return f, pipeline.FromRemoteScan, fmt.Sprintf("%s was scanned from the registry: %s", base.ref, why), nil
}

// attestedFacts reads the base's vulnerability report and SBOMs.
func attestedFacts(atts []Attestation, base *image) (*facts, error) {
	f := &facts{findings: map[string][]pipeline.Finding{}, packages: map[string][]pipeline.Package{}}
	var vuln bool
	for _, a := range atts {
		switch a.PredicateType {
		case VulnPredicateType:
			var p struct {
				Scanner struct {
					Result trivyReport `json:"result"`
				} `json:"scanner"`
			}
			if err := json.Unmarshal(a.Predicate, &p); err != nil {
				return nil, fmt.Errorf("its vulnerability attestation cannot be read: %w", err)
			}
			vuln = true
			for platform, pm := range base.manifests {
				for i, r := range p.Scanner.Result.Results {
					if len(base.manifests) > 1 && !strings.Contains(r.Target, pm.digest.String()) {
						continue
					}
					f.findings[platform] = append(f.findings[platform], p.Scanner.Result.findingsOf(i)...)
				}
			}
		case CycloneDXPredicateType:
			platform := a.Platform
			if platform == "" && len(base.manifests) == 1 {
				for p := range base.manifests {
					platform = p
				}
			}
			pkgs, err := cyclonedxPackages(a.Predicate)
			if err != nil {
				return nil, fmt.Errorf("its SBOM attestation cannot be read: %w", err)
			}
			f.packages[platform] = pkgs
		}
	}
	if !vuln {
		return nil, errors.New("it has no vulnerability attestation")
	}
	for p := range base.manifests {
		if _, ok := f.packages[p]; !ok {
			delete(f.packages, p)
		}
	}
	return f, nil
}

// scannedFacts are a scan's findings by platform and its SBOMs' packages.
func scannedFacts(r *pipeline.ScanResult) (*facts, error) {
	f := &facts{findings: map[string][]pipeline.Finding{}, packages: map[string][]pipeline.Package{}}
	var all []string
	for _, p := range r.Platforms {
		all = append(all, p.Platform)
	}
	for _, fd := range r.Findings {
		ps := fd.Platforms
		if len(ps) == 0 {
			ps = all
		}
		for _, p := range ps {
			f.findings[p] = append(f.findings[p], fd)
		}
	}
	for _, rf := range r.Reports {
		if rf.Format != pipeline.FormatCycloneDX {
			continue
		}
		platform := rf.Platform
		if platform == "" && len(all) == 1 {
			platform = all[0]
		}
		data, err := os.ReadFile(rf.Path)
		if err != nil {
			return nil, fmt.Errorf("reading the SBOM: %w", err)
		}
		if f.packages[platform], err = cyclonedxPackages(data); err != nil {
			return nil, fmt.Errorf("reading %s: %w", rf.Path, err)
		}
	}
	return f, nil
}

// headImage reads the built platforms' manifests from the build's OCI
// layout.
func headImage(built *pipeline.BuildResult) (*image, error) {
	img := &image{manifests: map[string]platformManifest{}}
	for _, pi := range built.Platforms {
		data, err := os.ReadFile(filepath.Join(built.LayoutDir, "blobs", pi.Digest.Algorithm, pi.Digest.Hex))
		if err != nil {
			return nil, fmt.Errorf("reading the %s manifest from the OCI layout: %w", pi.Platform, err)
		}
		m, err := v1.ParseManifest(strings.NewReader(string(data)))
		if err != nil {
			return nil, fmt.Errorf("reading the %s manifest: %w", pi.Platform, err)
		}
		img.manifests[pi.Platform] = platformManifest{digest: pi.Digest, manifest: m}
	}
	return img, nil
}

// size is an image's compressed size: its config and layers.
func size(m *v1.Manifest) int64 {
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// from is the base image a manifest's annotations name, name@digest.
func from(m *v1.Manifest) string {
	n, d := m.Annotations[AnnotationBaseName], m.Annotations[AnnotationBaseDigest]
	switch {
	case n != "" && d != "":
		return n + "@" + d
	default:
		return n + d
	}
}

// diffFindings splits head's findings into new (not in base), and base's
// into fixed (not in head); unchanged counts those in both.
func diffFindings(head, base []pipeline.Finding) (added, fixed []pipeline.Finding, unchanged int) {
	added, fixed = []pipeline.Finding{}, []pipeline.Finding{}
	for _, f := range head {
		if slices.ContainsFunc(base, f.SameAs) {
			unchanged++
		} else {
			added = append(added, f)
		}
	}
	for _, f := range base {
		if !slices.ContainsFunc(head, f.SameAs) {
			fixed = append(fixed, f)
		}
	}
	return added, fixed, unchanged
}

// distinct is each platform's pick over all of them, each finding once
// with the platforms it is in, worst first.
func distinct(ps []pipeline.PlatformCompare, pick func(pipeline.PlatformCompare) []pipeline.Finding) []pipeline.Finding {
	out := []pipeline.Finding{}
	for _, p := range ps {
		for _, f := range pick(p) {
			i := slices.IndexFunc(out, f.SameAs)
			if i < 0 {
				f.Platforms = nil
				out = append(out, f)
				i = len(out) - 1
			}
			if !slices.Contains(out[i].Platforms, p.Platform) {
				out[i].Platforms = append(out[i].Platforms, p.Platform)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := severity.Compare(out[i].Severity, out[j].Severity); c != 0 {
			return c > 0
		}
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Package < out[j].Package
	})
	return out
}
