package partial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/ocilayout"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/severity"
)

// Merger is slipway merge's build and scan stages: it assembles the
// index of the partial runs' platform images from their records (a
// pipeline.Builder) and gates on the scans they recorded (a
// pipeline.Scanner), reading manifests and records, never a layer.
type Merger struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	// OutputDir receives the reports the records carry (SBOMs, Trivy's
	// reports), which the sign stage attests.
	OutputDir string
	Log       io.Writer

	records []merged
}

// merged is one platform of the merge: its record and report layers.
type merged struct {
	src    pipeline.PartialSource
	rec    *Record
	layers map[string][]byte
}

// Build implements pipeline.Builder: it reads each record by its digest
// from the repository the partial runs pushed to (the first of images),
// checks it is of the manifest its line names and of that platform,
// assembles the index (each platform image, then the attestation
// manifests its build pushed with it, the index annotations) and pushes
// it by digest.
func (m *Merger) Build(ctx context.Context, b *pipeline.BuildPlan, pub *pipeline.PublishPlan) (*pipeline.BuildResult, error) {
	start := time.Now()
	repo, push := pub.Primary()
	if !push {
		return nil, fmt.Errorf("nothing to merge into: %s", pub.Reason)
	}
	opts := registry.RemoteOptions(ctx, m.Keychain, m.Transport)
	var images, attestations []v1.Descriptor
	res := &pipeline.BuildResult{}
	m.records = nil
	for _, src := range b.From {
		rec, layers, err := Read(ctx, repo.Digest(src.Record.String()), src.Manifest, m.Keychain, m.Transport)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Platform, err)
		}
		if rec.Platform != src.Platform {
			return nil, fmt.Errorf("%s: the record %s is of %s", src.Platform, src.Record, rec.Platform)
		}
		if rec.Image.Context() != repo {
			return nil, fmt.Errorf("%s: the record's image %s is not in %s, the repository merged into", src.Platform, rec.Image, repo)
		}
		desc, err := remote.Get(rec.Image, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", src.Platform, rec.Image, err)
		}
		img, atts, err := platformEntries(desc, src)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", src.Platform, rec.Image, err)
		}
		pi, err := platformImage(repo, img, src.Platform, opts)
		if err != nil {
			return nil, err
		}
		images, attestations = append(images, img), append(attestations, atts...)
		res.Platforms = append(res.Platforms, pi)
		res.Nodes = append(res.Nodes, pipeline.NodeBuild{Address: orUnknown(rec.RunURL), Platforms: []string{src.Platform}, Digest: src.Manifest})
		m.records = append(m.records, merged{src, rec, layers})
	}
	raw, desc, err := ocilayout.NewIndex(images, attestations, meta.AnnotationsAt(b.Annotations, "index"))
	if err != nil {
		return nil, err
	}
	h := desc.Digest
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw: raw, mediaType: desc.MediaType}, opts...); err != nil {
		return nil, fmt.Errorf("pushing the index to %s: %w", repo, err)
	}
	d, err := json.Marshal(desc)
	if err != nil {
		return nil, err
	}
	res.Digest = h
	res.Metadata = map[string]any{
		"containerimage.digest":     h.String(),
		"containerimage.descriptor": json.RawMessage(d),
		"image.name":                repo.Digest(h.String()).String(),
	}
	res.Duration = time.Since(start)
	if m.Log != nil {
		fmt.Fprintf(m.Log, "slipway: merged %d platforms into %s\n", len(b.From), repo.Digest(h.String()))
	}
	return res, nil
}

// platformEntries finds, in what a partial run pushed (desc), the image
// manifest src names and the attestation manifests about it.
func platformEntries(desc *remote.Descriptor, src pipeline.PartialSource) (v1.Descriptor, []v1.Descriptor, error) {
	if !desc.MediaType.IsIndex() {
		if desc.Digest != src.Manifest {
			return v1.Descriptor{}, nil, fmt.Errorf("is %s, not the manifest %s", desc.Digest, src.Manifest)
		}
		return desc.Descriptor, nil, nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	var img *v1.Descriptor
	var atts []v1.Descriptor
	for _, d := range im.Manifests {
		switch {
		case d.Digest == src.Manifest:
			img = &d
		case ocilayout.IsAttestation(d) && d.Annotations["vnd.docker.reference.digest"] == src.Manifest.String():
			atts = append(atts, d)
		}
	}
	if img == nil {
		return v1.Descriptor{}, nil, fmt.Errorf("has no manifest %s", src.Manifest)
	}
	if img.Platform == nil {
		p, err := v1.ParsePlatform(src.Platform)
		if err != nil {
			return v1.Descriptor{}, nil, err
		}
		img.Platform = p
	}
	return *img, atts, nil
}

// platformImage describes the image d of repo for the result: its
// platform, manifest, config and size, from its manifest alone.
func platformImage(repo name.Repository, d v1.Descriptor, platform string, opts []remote.Option) (pipeline.PlatformImage, error) {
	desc, err := remote.Get(repo.Digest(d.Digest.String()), opts...)
	if err != nil {
		return pipeline.PlatformImage{}, fmt.Errorf("%s: reading its manifest: %w", platform, err)
	}
	mf, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return pipeline.PlatformImage{}, fmt.Errorf("%s: its manifest: %w", platform, err)
	}
	size := mf.Config.Size
	for _, l := range mf.Layers {
		size += l.Size
	}
	return pipeline.PlatformImage{Platform: platform, Digest: d.Digest, Config: mf.Config.Digest, Size: size}, nil
}

// Scan implements pipeline.Scanner: the platforms' recorded scans, as
// one: every finding once (with the platforms it is in), counted by
// severity, those at s's severities blocking; the SBOMs and Trivy's
// reports the records carry are written under OutputDir for the sign
// stage to attest, Trivy's as one report of the index.
func (m *Merger) Scan(_ context.Context, s *pipeline.ScanPlan, built *pipeline.BuildResult) (*pipeline.ScanResult, error) {
	if len(m.records) == 0 {
		return nil, fmt.Errorf("no partial run's record was read")
	}
	res := &pipeline.ScanResult{Counts: map[severity.Severity]int{}, Threshold: descending(s.Severity)}
	byKey := map[string]int{}
	var results []json.RawMessage
	for _, r := range m.records {
		sc := r.rec.Scan
		if sc == nil {
			return nil, fmt.Errorf("%s was not scanned by its partial run (scan: false there), so the merge has nothing to gate on", r.src.Platform)
		}
		if res.Scanner == "" {
			res.Scanner, res.DB, res.StartedAt, res.CacheDir = sc.Scanner, sc.DB, sc.StartedAt, sc.CacheDir
		}
		if sc.StartedAt.Before(res.StartedAt) {
			res.StartedAt = sc.StartedAt
		}
		res.Duration = max(res.Duration, sc.Duration)
		res.Ignored += sc.Ignored
		res.Unfixed += sc.Unfixed
		res.Platforms = append(res.Platforms, sc.Platforms...)
		for _, f := range sc.Findings {
			k := f.ID + "\x00" + f.Package + "\x00" + f.Installed + "\x00" + f.Path
			if i, ok := byKey[k]; ok {
				for _, p := range f.Platforms {
					if !slices.Contains(res.Findings[i].Platforms, p) {
						res.Findings[i].Platforms = append(res.Findings[i].Platforms, p)
					}
				}
				continue
			}
			byKey[k] = len(res.Findings)
			res.Findings = append(res.Findings, f)
		}
		for title, data := range r.layers {
			if strings.HasSuffix(title, ".cdx.json") {
				path := filepath.Join(m.OutputDir, title)
				if err := writeFile(path, data); err != nil {
					return nil, err
				}
				res.Reports = append(res.Reports, pipeline.ReportFile{Format: pipeline.FormatCycloneDX, Platform: r.src.Platform, Path: path})
				continue
			}
			var tr struct {
				Results []json.RawMessage `json:"Results"`
			}
			if title == "trivy-report.json" && json.Unmarshal(data, &tr) == nil {
				results = append(results, tr.Results...)
			}
		}
	}
	slices.SortStableFunc(res.Findings, func(a, b pipeline.Finding) int { return severity.Compare(b.Severity, a.Severity) })
	for _, f := range res.Findings {
		res.Counts[f.Severity]++
		if slices.Contains(s.Severity, f.Severity) {
			res.Blocking = append(res.Blocking, f)
		}
	}
	res.Passed, res.Verdict = verdict(res)
	if results == nil {
		results = []json.RawMessage{}
	}
	js, err := json.Marshal(map[string]any{"SchemaVersion": 2, "ArtifactName": built.Metadata["image.name"], "ArtifactType": "container_image", "Results": results})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(m.OutputDir, "trivy-report.json")
	if err := writeFile(path, js); err != nil {
		return nil, err
	}
	res.Reports = append(res.Reports, pipeline.ReportFile{Format: pipeline.FormatJSON, Path: path})
	return res, nil
}

// verdict says what the gate found, as the scan stage words it.
func verdict(r *pipeline.ScanResult) (bool, string) {
	names := severity.Strings(r.Threshold)
	threshold := strings.Join(names, ",")
	counts := func(only []severity.Severity) string {
		var parts []string
		for _, sev := range severity.Descending() {
			if only != nil && !slices.Contains(only, sev) {
				continue
			}
			if n := r.Counts[sev]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, sev))
			}
		}
		return strings.Join(parts, ", ")
	}
	if len(r.Blocking) == 0 {
		v := fmt.Sprintf("gate passed: no %s vulnerability (threshold %s) in the partial runs' scans", strings.Join(names, " or "), threshold)
		if below := counts(nil); below != "" {
			v += "; below the threshold: " + below
		}
		return true, v
	}
	var worst []string
	for _, f := range r.Blocking[:min(3, len(r.Blocking))] {
		worst = append(worst, fmt.Sprintf("%s (%s) in %s %s on %s", f.ID, f.Severity, f.Package, f.Installed, strings.Join(f.Platforms, ", ")))
	}
	return false, fmt.Sprintf("gate failed: %s (threshold %s) in the partial runs' scans; worst: %s", counts(r.Threshold), threshold, strings.Join(worst, "; "))
}

func descending(ss []severity.Severity) []severity.Severity {
	out := slices.Clone(ss)
	slices.SortFunc(out, func(a, b severity.Severity) int { return severity.Compare(b, a) })
	return out
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "partial run"
	}
	return s
}
