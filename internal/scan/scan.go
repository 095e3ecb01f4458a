// Package scan is slipway's scan stage: Trivy, linked as a library,
// analyses every platform image of the build straight from the local OCI
// layout (OS and language packages), the gate applies the plan's policy
// (severity threshold, ignore-unfixed, ignore files) and one analysis
// per platform feeds every report under the output directory.
//
// How Trivy gets the image: the layout is opened with go-containerregistry
// (layout.FromPath → index → the platform manifest by digest) and the
// v1.Image, named for Trivy, is handed to Trivy's image artifact
// (pkg/fanal/artifact/image), which reads layers and config through it —
// from the layout's blobs. No registry, Docker daemon or containerd is
// asked: Trivy's image sources are never consulted for a layout scan.
// ScanRemote is the other way in, for an image only a registry holds: it
// uses Trivy's remote image source, one platform at a time.
//
// What the CLI switches off by default is off here too: the executable
// analyzer and the "unpackaged" post-handler (both query Rekor), secret,
// misconfiguration and license-file scanning, lock files inside images,
// the RPM-archive and apk-command analyzers; no remote SBOM lookup, no
// version check or telemetry (slipway never builds Trivy's CLI runner).
// Vulnerability severities come from the finding's own data source first
// ("auto", the CLI default).
//
// Reports (under OutputDir):
//
//	trivy-report.json                Trivy JSON, every severity, ignored findings
//	                                 kept as Trivy's "suppressed" findings
//	trivy-results.sarif              SARIF 2.1.0, every severity (as trivy-action)
//	gl-container-scanning-report.json GitLab container scanning, schema 15
//	sbom.cdx.json                    CycloneDX SBOM: every package, no findings
//
// and the table, limited to the threshold, on Log. For a multi-platform
// build the JSON, SARIF and GitLab reports combine every platform (each
// platform image is its own target, named <image>@<platform digest>), and
// each platform also gets trivy-report-<os>-<arch>[-<variant>].json and
// sbom-<os>-<arch>[-<variant>].cdx.json: an SBOM describes one image, so
// there is no combined SBOM for several.
package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	dbTypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/clock"
	"github.com/aquasecurity/trivy/pkg/db"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	artimage "github.com/aquasecurity/trivy/pkg/fanal/artifact/image"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	trivylog "github.com/aquasecurity/trivy/pkg/log"
	"github.com/aquasecurity/trivy/pkg/report"
	"github.com/aquasecurity/trivy/pkg/report/cyclonedx"
	"github.com/aquasecurity/trivy/pkg/report/table"
	trivyscan "github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/version/app"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
	xhttp "github.com/aquasecurity/trivy/pkg/x/http"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Report file names under OutputDir.
const (
	JSONReport   = "trivy-report.json"
	SARIFReport  = "trivy-results.sarif"
	GitLabFile   = "gl-container-scanning-report.json"
	SBOMFile     = "sbom.cdx.json"
	reportPrefix = "trivy-report-"
	sbomPrefix   = "sbom-"
)

// Stage is the scan stage: a pipeline.Scanner.
type Stage struct {
	// OutputDir is where the reports go (the plan's report output dir).
	OutputDir string
	// Log takes the table and Trivy's progress messages (stderr).
	Log io.Writer
	// RunnerTemp is $RUNNER_TEMP as the caller read it, "" outside
	// GitHub Actions: the default cache dir is under it when set.
	RunnerTemp string
	// ImageName is the image repository the reports name the scanned
	// images after (e.g. ghcr.io/owner/app). Default: the repository of
	// the build's image.name metadata, else the layout directory.
	ImageName string
	// Registry holds the registry options (credentials, mirrors, TLS)
	// for the DB download and ScanRemote.
	Registry ftypes.RegistryOptions
	// Transport, when set, carries every HTTP request Trivy makes on the
	// scan's context (the DB download; ScanRemote's registry requests).
	Transport http.RoundTripper
	// Now, when set, is the clock: expiry of ignore entries, report times.
	Now func() time.Time
}

// The scan's result types are the pipeline's, so the report stage sees
// everything the scan found.
type (
	Result         = pipeline.ScanResult
	PlatformResult = pipeline.ScanPlatform
	ReportFile     = pipeline.ReportFile
	Finding        = pipeline.Finding
	DBInfo         = pipeline.DBInfo
)

// platformReport is one platform's analysis and its filtered views.
type platformReport struct {
	Platform string
	Digest   string
	raw      types.Report // Trivy's report as scanned
	filtered types.Report // the policy applied, every severity
	gated    types.Report // filtered, threshold severities only
}

// scanMu serialises scans: Trivy's vulnerability DB handle, its Java DB
// updater and its logger are process-wide.
var scanMu sync.Mutex

// Scan scans every platform image of the build from its local OCI layout
// and applies the gate (pipeline.Scanner).
func (s *Stage) Scan(ctx context.Context, p *pipeline.ScanPlan, built *pipeline.BuildResult) (*Result, error) {
	if built == nil || built.LayoutDir == "" {
		return nil, errors.New("nothing to scan: the build left no OCI layout")
	}
	name := s.ImageName
	if name == "" {
		name = imageRepository(built)
	}
	dir := built.LayoutDir
	if fi, err := os.Stat(filepath.Join(dir, "index.json")); err != nil || fi.IsDir() {
		// BuildKit's layout may sit in <output-dir>/oci.
		if fi, err := os.Stat(filepath.Join(dir, "oci", "index.json")); err == nil && !fi.IsDir() {
			dir = filepath.Join(dir, "oci")
		}
	}
	return s.run(ctx, p, func(context.Context) ([]target, error) {
		return layoutTargets(dir, built, name)
	})
}

// ScanRemote scans an image that only a registry holds, by reference
// (best by digest: repo@sha256:…), with Trivy's remote image source: one
// scan per platform of platforms ("linux/amd64"), or of the platform the
// registry resolves when platforms is empty.
func (s *Stage) ScanRemote(ctx context.Context, p *pipeline.ScanPlan, ref string, platforms []string) (*Result, error) {
	return s.run(ctx, p, func(ctx context.Context) ([]target, error) {
		return remoteTargets(ctx, ref, platforms, s.Registry)
	})
}

func (s *Stage) logw() io.Writer {
	if s.Log == nil {
		return io.Discard
	}
	return s.Log
}

// CacheDir is the cache directory a plan uses.
func (s *Stage) CacheDir(p *pipeline.ScanPlan) (string, error) {
	if p.CacheDir != "" {
		return p.CacheDir, nil
	}
	return DefaultCacheDir(s.RunnerTemp)
}

func (s *Stage) run(ctx context.Context, p *pipeline.ScanPlan, targets func(context.Context) ([]target, error)) (*Result, error) {
	start := time.Now()
	if !p.Enabled {
		return &Result{Passed: true, Verdict: "not scanned (scan is false)"}, nil
	}
	if s.Now != nil {
		ctx = clock.With(ctx, s.Now())
	}
	if s.Transport != nil {
		ctx = xhttp.WithTransport(ctx, transport{s.Transport})
	}
	startedAt := clock.Now(ctx)
	pol, err := newPolicy(ctx, p)
	if err != nil {
		return nil, err
	}
	cacheDir, err := s.CacheDir(p)
	if err != nil {
		return nil, err
	}
	repos := p.DBRepository
	if len(repos) == 0 {
		repos = DefaultDBRepositories()
	}

	scanMu.Lock()
	defer scanMu.Unlock()
	// Trivy logs through slog's default logger: send it to Log for the
	// scan. Trivy's package init leaves a handler that buffers every
	// record in memory, for ever: that one is not put back.
	prevLogger := slog.Default()
	slog.SetDefault(trivylog.New(trivylog.NewHandler(s.logw(), &trivylog.Options{Level: slog.LevelInfo})))
	if _, deferred := prevLogger.Handler().(*trivylog.DeferredHandler); !deferred {
		defer slog.SetDefault(prevLogger)
	}

	res := &Result{CacheDir: cacheDir, Threshold: pol.thresholdSeverities()}
	if res.DB, err = openDB(ctx, cacheDir, repos, p.SkipDBUpdate, s.Registry); err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()

	c, cleanupCache, err := cache.New(cache.Options{Backend: "fs", CacheDir: cacheDir})
	if err != nil {
		return nil, fmt.Errorf("opening the scan cache in %s: %w", cacheDir, err)
	}
	defer cleanupCache()

	tgts, err := targets(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range tgts {
			t.cleanup()
		}
	}()

	var reports []platformReport
	for _, t := range tgts {
		raw, err := analyse(ctx, c, t.Image)
		if err != nil {
			return nil, fmt.Errorf("scanning %s (%s): %w", t.Image.Name(), orUnknown(t.Platform), err)
		}
		reports = append(reports, platformReport{Platform: t.Platform, Digest: t.Digest, raw: raw})
	}
	res.Scanner = "trivy " + trivyVersion()
	if err := s.judge(ctx, p, pol, reports, res, startedAt); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// Judge applies the plan's policy and gate to a Trivy report another run
// made and signed (the vulnerability attestation's, all platforms in
// one, as the JSON report is written), with no scan: each platform's
// results are those whose target names its digest. It writes the
// reports as Scan does; scanner and scannedAt are the report's.
func (s *Stage) Judge(ctx context.Context, p *pipeline.ScanPlan, report []byte, platforms []pipeline.PlatformImage, scanner string, scannedAt time.Time) (*Result, error) {
	if s.Now != nil {
		ctx = clock.With(ctx, s.Now())
	}
	var all types.Report
	if err := json.Unmarshal(report, &all); err != nil {
		return nil, fmt.Errorf("reading the signed vulnerability report: %w", err)
	}
	pol, err := newPolicy(ctx, p)
	if err != nil {
		return nil, err
	}
	var reports []platformReport
	for _, pi := range platforms {
		raw := all
		raw.Results = nil
		for _, r := range all.Results {
			if len(platforms) == 1 || strings.Contains(r.Target, pi.Digest.String()) {
				raw.Results = append(raw.Results, r)
			}
		}
		reports = append(reports, platformReport{Platform: pi.Platform, Digest: pi.Digest.String(), raw: raw})
	}
	res := &Result{Threshold: pol.thresholdSeverities(), Scanner: scanner}
	if err := s.judge(ctx, p, pol, reports, res, scannedAt); err != nil {
		return nil, err
	}
	return res, nil
}

// judge applies the policy and the gate to each platform's report, counts
// and words the verdict into res, and writes the reports.
func (s *Stage) judge(ctx context.Context, p *pipeline.ScanPlan, pol *policy, reports []platformReport, res *Result, startedAt time.Time) error {
	for i := range reports {
		pr := &reports[i]
		var err error
		if pr.filtered, err = pol.apply(ctx, pr.raw); err != nil {
			return err
		}
		if pr.gated, err = pol.gate(ctx, pr.filtered); err != nil {
			return err
		}
	}

	// The gate and the counts.
	res.Findings = findings(reports, func(pr platformReport) types.Report { return pr.filtered })
	res.Blocking = findings(reports, func(pr platformReport) types.Report { return pr.gated })
	res.Counts = pipeline.CountBySeverity(res.Findings)
	res.Ignored = countIgnored(reports)
	if p.IgnoreUnfixed {
		res.Unfixed = countUnfixed(reports, pol)
	}
	for _, pr := range reports {
		osName := ""
		if o := pr.raw.Metadata.OS; o != nil {
			osName = strings.TrimSpace(string(o.Family) + " " + o.Name)
		}
		res.Platforms = append(res.Platforms, PlatformResult{
			Platform: pr.Platform, Digest: pr.Digest, Artifact: pr.raw.ArtifactName, OS: osName,
			Packages: countPackages(pr.raw), Counts: pipeline.CountBySeverity(findings([]platformReport{pr}, func(pr platformReport) types.Report { return pr.filtered })),
		})
	}
	res.Passed, res.Verdict = pol.verdict(res.Counts, res.Blocking, res.Ignored, res.Unfixed, p.TrivyIgnores)

	res.StartedAt = startedAt
	var err error
	if res.Reports, err = s.writeReports(ctx, reports, pol, startedAt); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(s.logw(), "%s\n", res.Verdict)
	return nil
}

// analyse runs one Trivy analysis of img: the image artifact over the
// analysis cache, then Trivy's local scanner against the opened DB.
func analyse(ctx context.Context, c cache.Cache, img ftypes.Image) (types.Report, error) {
	art, err := artimage.NewArtifact(img, c, artifactOption())
	if err != nil {
		return types.Report{}, err
	}
	svc := trivyscan.NewService(
		local.NewService(applier.NewApplier(c), ospkg.NewScanner(), langpkg.NewScanner(), vulnerability.NewClient(trivydb.Config{})),
		art,
	)
	return svc.ScanArtifact(ctx, scanOptions())
}

// artifactOption is the analysis `trivy image --scanners vuln` runs,
// switched off where the CLI switches off by default.
func artifactOption() artifact.Option {
	var disabled []analyzer.Type
	disabled = append(disabled, analyzer.TypeLockfiles...)   // the image subcommand's default
	disabled = append(disabled, analyzer.TypeConfigFiles...) // no misconfiguration scanning
	disabled = append(disabled,
		analyzer.TypeApkCommand,        // no --scan-removed-pkgs
		analyzer.TypeSecret,            // no secret scanning
		analyzer.TypeLicenseFile,       // no --license-full
		analyzer.TypeHistoryDockerfile, // no image config scanners
		analyzer.TypeExecutable,        // Rekor is not an SBOM source
		analyzer.TypeRpmArchive,        // experimental, off unless asked
	)
	return artifact.Option{
		DisabledAnalyzers: disabled,
		// The unpackaged post-handler looks executables up in Rekor.
		DisabledHandlers: []ftypes.HandlerType{ftypes.UnpackagedPostHandler},
		Parallel:         5,
		NoProgress:       true,
		// Never look Maven POMs up online.
		Offline: true,
		// Package file digests, as `--format cyclonedx` computes them.
		FileChecksum:      true,
		DetectionPriority: ftypes.PriorityPrecise,
	}
}

func scanOptions() types.ScanOptions {
	return types.ScanOptions{
		PkgTypes:            types.PkgTypes,
		PkgRelationships:    ftypes.Relationships,
		Scanners:            types.Scanners{types.VulnerabilityScanner},
		VulnSeveritySources: []dbTypes.SourceID{"auto"},
	}
}

func countPackages(r types.Report) int {
	n := 0
	for _, res := range r.Results {
		n += len(res.Packages)
	}
	return n
}

// countUnfixed counts the distinct findings ignore-unfixed left out (and
// no ignore file did).
func countUnfixed(reports []platformReport, pol *policy) int {
	seen := map[string]bool{}
	for _, pr := range reports {
		for _, res := range pr.raw.Results {
			for _, v := range res.Vulnerabilities {
				if slices.Contains(pol.ignoreStatuses, v.Status) {
					seen[vulnKey(v)] = true
				}
			}
		}
	}
	return len(seen)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown platform"
	}
	return s
}

// linkedTrivy is the Trivy version go.mod requires (a test keeps them
// in step): test binaries carry no dependency build info.
const linkedTrivy = "0.74.0"

// trivyVersion is the linked Trivy's version, e.g. "0.70.0".
func trivyVersion() string {
	if v := app.Version(); v != "dev" && v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/aquasecurity/trivy" {
				if d.Replace != nil && d.Replace.Version != "" {
					return strings.TrimPrefix(d.Replace.Version, "v")
				}
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return linkedTrivy
}

// transport adapts a RoundTripper to Trivy's transport builder.
type transport struct{ rt http.RoundTripper }

func (t transport) Build(...xhttp.TransportOption) http.RoundTripper { return t.rt }

// writeReports writes every report from the one analysis per platform.
func (s *Stage) writeReports(ctx context.Context, reports []platformReport, pol *policy, startedAt time.Time) ([]ReportFile, error) {
	if err := os.MkdirAll(s.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("report output dir: %w", err)
	}
	var files []ReportFile
	out := func(format, platform, name string, write func(io.Writer) error) error {
		path := filepath.Join(s.OutputDir, name)
		if err := writeFile(path, write); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		files = append(files, ReportFile{Format: format, Platform: platform, Path: path})
		return nil
	}
	ver := trivyVersion()
	multi := len(reports) > 1

	// The table, limited to the threshold, on Log.
	for _, pr := range reports {
		if multi {
			_, _ = fmt.Fprintf(s.logw(), "\nPlatform %s (%s)\n", orUnknown(pr.Platform), pr.Digest)
		}
		tw := table.NewWriter(table.Options{
			Scanners:   types.Scanners{types.VulnerabilityScanner},
			Severities: pol.threshold,
			Output:     s.logw(),
			TableModes: types.SupportedTableModes,
		})
		if err := tw.Write(ctx, pr.gated); err != nil {
			return nil, fmt.Errorf("writing the table: %w", err)
		}
	}

	filtered := make([]types.Report, len(reports))
	for i, pr := range reports {
		filtered[i] = pr.filtered
	}
	combined := filtered[0]
	if multi {
		combined = combine(filtered)
	}

	jsonWriter := func(r types.Report) func(io.Writer) error {
		return func(w io.Writer) error {
			return report.JSONWriter{Output: w, ShowSuppressed: true}.Write(ctx, r)
		}
	}
	if err := out(pipeline.FormatJSON, "", JSONReport, jsonWriter(combined)); err != nil {
		return nil, err
	}
	if err := out(pipeline.FormatSARIF, "", SARIFReport, func(w io.Writer) error {
		return (&report.SarifWriter{Output: w, Version: ver}).Write(ctx, combined)
	}); err != nil {
		return nil, err
	}
	if err := out(pipeline.FormatGitLab, "", GitLabFile, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(gitLabReport(filtered, ver, pol.defaultBranchImage, startedAt, clock.Now(ctx)))
	}); err != nil {
		return nil, err
	}
	sbom := func(r types.Report) func(io.Writer) error {
		return func(w io.Writer) error {
			return cyclonedx.NewWriter(w, ver).Write(ctx, packagesOnly(r))
		}
	}
	if !multi {
		if err := out(pipeline.FormatCycloneDX, reports[0].Platform, SBOMFile, sbom(reports[0].raw)); err != nil {
			return nil, err
		}
		return files, nil
	}
	for _, pr := range reports {
		suffix := platformSuffix(pr)
		if err := out(pipeline.FormatJSON, pr.Platform, reportPrefix+suffix+".json", jsonWriter(pr.filtered)); err != nil {
			return nil, err
		}
		if err := out(pipeline.FormatCycloneDX, pr.Platform, sbomPrefix+suffix+".cdx.json", sbom(pr.raw)); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// combine merges the platform reports into one: every platform's results,
// each under its own target, and the metadata the platforms share.
func combine(rs []types.Report) types.Report {
	c := types.Report{
		SchemaVersion: rs[0].SchemaVersion,
		Trivy:         rs[0].Trivy,
		ReportID:      rs[0].ReportID,
		CreatedAt:     rs[0].CreatedAt,
		ArtifactName:  strings.Split(rs[0].ArtifactName, "@")[0],
		ArtifactType:  rs[0].ArtifactType,
	}
	if o := rs[0].Metadata.OS; o != nil {
		same := true
		for _, r := range rs[1:] {
			if r.Metadata.OS == nil || r.Metadata.OS.Family != o.Family || r.Metadata.OS.Name != o.Name {
				same = false
			}
		}
		if same {
			c.Metadata.OS = o
		}
	}
	for _, r := range rs {
		c.Results = append(c.Results, r.Results...)
		c.Metadata.RepoDigests = append(c.Metadata.RepoDigests, r.Metadata.RepoDigests...)
	}
	return c
}

// packagesOnly is the report as an SBOM: every package, no findings.
func packagesOnly(r types.Report) types.Report {
	out := r
	out.Results = make(types.Results, len(r.Results))
	for i, res := range r.Results {
		res.Vulnerabilities = nil
		res.ModifiedFindings = nil
		out.Results[i] = res
	}
	return out
}

func platformSuffix(pr platformReport) string {
	if pr.Platform == "" {
		return strings.ReplaceAll(pr.Digest, ":", "-")
	}
	return strings.ReplaceAll(pr.Platform, "/", "-")
}

func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return write(f)
}
