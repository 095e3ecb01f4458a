package pipeline

import (
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/severity"
)

// The result model: what each stage produced. The report renders it
// (outputs, summary, comment, slipway-report.json); --output json prints it.

// Result is what a run did.
type Result struct {
	DryRun bool         `json:"dry-run"`
	Build  *BuildResult `json:"build,omitempty"`
	Scan   *ScanResult  `json:"scan,omitempty"`
	// Compare is the comparison with the base image (compare-to).
	Compare *CompareResult `json:"compare,omitempty"`
	Sign    *SignResult    `json:"sign,omitempty"`
	// Partial is a partial run's result, for slipway merge.
	Partial *PartialResult `json:"partial,omitempty"`
	// Call is what call: check, outline or targets returned.
	Call *CallResult `json:"call,omitempty"`
	// Load is the image loaded into a Docker Engine (load).
	Load *LoadResult `json:"load,omitempty"`
	// Images is every repository the digest reached, with the tags moved
	// there (empty until its tag step is done).
	Images []PublishedImage `json:"images,omitempty"`
	Done   []Step           `json:"done"`
	// Warnings are things the run did not do and a user should know.
	Warnings []string `json:"warnings,omitempty"`
	// Failed is the step that failed and Error why; nil on success.
	Failed *Step  `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`
}

// CallResult is what a call in place of the build returned.
type CallResult struct {
	// Call is the input's name for it: check, outline or targets.
	Call string `json:"call"`
	// Printed is what buildx prints for it; slipway's stdout.
	Printed string `json:"printed"`
	// Warnings are the Dockerfile checks' warnings (check).
	Warnings []CheckWarning `json:"warnings,omitempty"`
	// Error is the checks' error when the Dockerfile sets
	// check=error=true and a check failed; "" otherwise.
	Error string `json:"error,omitempty"`
}

// CheckWarning is one warning of the Dockerfile checks, where it is.
type CheckWarning struct {
	Rule        string `json:"rule"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	Detail      string `json:"detail"`
	File        string `json:"file,omitempty"`
	Line        int    `json:"line,omitempty"`
}

// Where is file:line, or the file alone, or "".
func (w CheckWarning) Where() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d", w.File, w.Line)
	}
	return w.File
}

// LoadResult is the image a Docker Engine was given.
type LoadResult struct {
	DockerHost string `json:"docker-host"`
	// ImageID is the Engine's ID of it: its config's digest.
	ImageID v1.Hash    `json:"image-id"`
	Tags    []name.Tag `json:"tags"`
}

// PartialResult is what a partial run leaves for slipway merge: its
// platform's image, and the record of its scan, a referrer of it.
type PartialResult struct {
	Platform string `json:"platform"`
	// Image is what the build pushed, by digest: an index of the image
	// and its attestation manifests, or the image alone.
	Image name.Digest `json:"image"`
	// Manifest is the platform image's manifest.
	Manifest v1.Hash `json:"manifest"`
	// Record is the record artifact, by digest.
	Record name.Digest `json:"record"`
}

// Line is the partial result as slipway merge's from input takes it:
// "<platform> <manifest digest> <record digest>".
func (p *PartialResult) Line() string {
	return p.Platform + " " + p.Manifest.String() + " " + p.Record.DigestStr()
}

// BuildResult is what the build stage produced.
type BuildResult struct {
	Digest    v1.Hash         `json:"digest,omitzero"` // index (or manifest) digest; zero in a dry run
	Platforms []PlatformImage `json:"platforms"`
	LayoutDir string          `json:"layout-dir"` // local OCI layout of the result
	// Metadata is what buildx writes to --metadata-file
	// (containerimage.digest, containerimage.descriptor, image.name).
	Metadata map[string]any `json:"metadata,omitempty"`
	Duration time.Duration  `json:"duration"`
	// Steps counts the Dockerfile steps, CachedSteps those served from cache.
	Steps       int `json:"steps"`
	CachedSteps int `json:"cached-steps"`
	// Nodes are, for a build on several BuildKit nodes, what each built.
	Nodes []NodeBuild `json:"nodes,omitempty"`
}

// NodeBuild is what one node of a build on several built: its platforms
// (its image, or its index of them, by digest) and how long it took.
type NodeBuild struct {
	Address     string        `json:"address"`
	Platforms   []string      `json:"platforms"`
	Digest      v1.Hash       `json:"digest"`
	Duration    time.Duration `json:"duration"`
	Steps       int           `json:"steps"`
	CachedSteps int           `json:"cached-steps"`
}

// DigestStr is the digest as outputs render it: "" in a dry run.
func (b *BuildResult) DigestStr() string {
	if b.Digest == (v1.Hash{}) {
		return ""
	}
	return b.Digest.String()
}

// In is the built digest in repo (with no digest in a dry run).
func (b *BuildResult) In(repo name.Repository) name.Digest {
	if b.Digest == (v1.Hash{}) {
		return repo.Digest("")
	}
	return repo.Digest(b.Digest.String())
}

// PlatformImage is one platform's manifest.
type PlatformImage struct {
	Platform string  `json:"platform"`
	Digest   v1.Hash `json:"digest"`
	// Config is its image config's digest (what `docker images` calls
	// the image ID).
	Config v1.Hash `json:"config,omitzero"`
	Size   int64   `json:"size"`
}

// ScanResult is everything the scan found and wrote, and the gate's verdict.
type ScanResult struct {
	Counts  map[severity.Severity]int `json:"counts"`
	Passed  bool                      `json:"passed"`
	Verdict string                    `json:"verdict"`
	// Threshold is the gate's severities, highest first.
	Threshold []severity.Severity `json:"threshold"`
	// Blocking is the findings at the threshold that fail the gate,
	// worst first (distinct over the platforms).
	Blocking []Finding `json:"blocking"`
	// Findings is every finding after the policy, worst first.
	Findings []Finding `json:"findings"`
	// Ignored counts the findings the ignore files left out; Unfixed
	// those ignore-unfixed left out.
	Ignored   int            `json:"ignored"`
	Unfixed   int            `json:"unfixed"`
	Platforms []ScanPlatform `json:"platforms"`
	Reports   []ReportFile   `json:"reports"`
	DB        DBInfo         `json:"db"`
	CacheDir  string         `json:"cache-dir"`
	// Scanner is the scanner and its version, e.g. "trivy v0.70.0".
	Scanner string `json:"scanner"`
	// Source is where slipway promote's findings came from: the image's
	// signed report (FromAttestations) or a scan of it in its registry
	// (FromRemoteScan); "" for a run's own scan.
	Source    string        `json:"source,omitempty"`
	StartedAt time.Time     `json:"started-at"`
	Duration  time.Duration `json:"duration"`
}

// Finding is one vulnerability in one package.
type Finding struct {
	ID        string            `json:"id"`
	Severity  severity.Severity `json:"severity"`
	Package   string            `json:"package"`
	Installed string            `json:"installed"`
	Fixed     string            `json:"fixed,omitempty"`
	Status    string            `json:"status,omitempty"`
	Title     string            `json:"title,omitempty"`
	URL       string            `json:"url,omitempty"`
	Path      string            `json:"path,omitempty"` // language packages: the file it came from
	Platforms []string          `json:"platforms,omitempty"`
}

// SameAs says f and o are one finding, in two images or two scans: the
// same vulnerability in the same package at the same installed version.
func (f Finding) SameAs(o Finding) bool {
	return f.ID == o.ID && f.Package == o.Package && f.Installed == o.Installed
}

// CountBySeverity counts findings per severity; every severity is present.
func CountBySeverity(fs []Finding) map[severity.Severity]int {
	c := map[severity.Severity]int{}
	for _, s := range severity.Ascending() {
		c[s] = 0
	}
	for _, f := range fs {
		c[f.Severity]++
	}
	return c
}

// ScanPlatform is one platform image's scan.
type ScanPlatform struct {
	Platform string                    `json:"platform"`
	Digest   string                    `json:"digest"`
	Artifact string                    `json:"artifact"`     // the name reports give it
	OS       string                    `json:"os,omitempty"` // e.g. "alpine 3.22.1"
	Packages int                       `json:"packages"`
	Counts   map[severity.Severity]int `json:"counts"`
}

// Formats of the scan's reports (ReportFile.Format).
const (
	FormatJSON      = "json"      // Trivy's JSON
	FormatSARIF     = "sarif"     // SARIF 2.1.0
	FormatGitLab    = "gitlab"    // GitLab container scanning
	FormatCycloneDX = "cyclonedx" // a CycloneDX SBOM
)

// ReportFile is one written report.
type ReportFile struct {
	Format   string `json:"format"`             // one of the Format* constants
	Platform string `json:"platform,omitempty"` // "" for a combined report
	Path     string `json:"path"`
}

// DBInfo is the vulnerability DB a scan used.
type DBInfo struct {
	Dir          string    `json:"dir"`
	Downloaded   bool      `json:"downloaded"` // this scan downloaded it
	UpdatedAt    time.Time `json:"updated-at"`
	NextUpdate   time.Time `json:"next-update"`
	DownloadedAt time.Time `json:"downloaded-at"`
}

// SignResult is what signing left in the registries.
type SignResult struct {
	Mode mode.Signing `json:"mode"`
	// Signed is every digest signed: the index and each manifest in it
	// (platform images and attestation manifests), as cosign sign
	// --recursive.
	Signed []v1.Hash `json:"signed"`
	// Artifacts are cosign's signature and attestation manifests
	// (tagged sha256-<hex>.sig, .att) in the signing repository: what
	// the copy step carries along with the image.
	Artifacts []artifact.Attached `json:"artifacts"`
	// Signatures are those manifests' tags in every repository.
	Signatures   []name.Tag    `json:"signatures"`
	Attestations []Attestation `json:"attestations"`
	// Identity is the signer: the key's public key fingerprint, or the
	// certificate's subject and issuer for keyless.
	Identity string `json:"identity,omitempty"`
	// PublicKey is the PEM public key (key mode), for the verify command;
	// CertificateIdentity and CertificateIssuer are the keyless
	// certificate's subject and OIDC issuer. Verify checks against them.
	PublicKey           string `json:"public-key,omitempty"`
	CertificateIdentity string `json:"certificate-identity,omitempty"`
	CertificateIssuer   string `json:"certificate-oidc-issuer,omitempty"`
	// TlogIndex is the transparency log index of the signature, -1 when
	// not uploaded.
	TlogIndex int64 `json:"tlog-index"`
	Verified  bool  `json:"verified"`
	// VerifyCommand is the cosign command a user runs to check the
	// signature; VerifyAttestationCommand the attestation's.
	VerifyCommand            string `json:"verify-command"`
	VerifyAttestationCommand string `json:"verify-attestation-command,omitempty"`
}

// Attestation is one in-toto attestation attached to a digest.
type Attestation struct {
	Type          string `json:"type"` // cosign's --type: cyclonedx, vuln
	PredicateType string `json:"predicate-type"`
	Subject       string `json:"subject"` // the digest it is about
	Platform      string `json:"platform,omitempty"`
	Path          string `json:"path,omitempty"` // the predicate's file
}

// PublishedImage is the digest in one repository.
type PublishedImage struct {
	Repository name.Repository `json:"repository"`
	Ref        name.Digest     `json:"ref"`
	Tags       []name.Tag      `json:"tags"` // once moved
}

// Sources of a base image's facts.
const (
	// FromAttestations: the base's own signed vulnerability report and
	// SBOMs (slipway's attestations), verified with this run's key.
	FromAttestations = "attestations"
	// FromRemoteScan: the base scanned from the registry with this run's
	// Trivy and DB (it has no attestation this run's key verifies).
	FromRemoteScan = "remote-scan"
)

// CompareResult is the comparison of the built image with a base image,
// per platform. A base that cannot be compared (missing, unreachable) is
// no failure: Compared is false and Note says why.
type CompareResult struct {
	// Base is the reference compared with, as planned.
	Base string `json:"base"`
	// Image is the base by digest (an index or a manifest), when found.
	Image    string `json:"image,omitempty"`
	Compared bool   `json:"compared"`
	// Source is where the base's facts come from: FromAttestations or
	// FromRemoteScan.
	Source string `json:"source,omitempty"`
	// Note says why there is no comparison, or what the reader should
	// know about it (attestations signed by another key).
	Note      string            `json:"note,omitempty"`
	Platforms []PlatformCompare `json:"platforms,omitempty"`
	// New and Fixed are the findings over every platform, worst first,
	// each once with the platforms it is new (fixed) in.
	New   []Finding `json:"new"`
	Fixed []Finding `json:"fixed"`
	// NewCounts counts New by severity.
	NewCounts map[severity.Severity]int `json:"new-counts"`
	// SizeDelta is the compressed size change summed over the platforms.
	SizeDelta int64         `json:"size-delta-bytes"`
	Duration  time.Duration `json:"duration"`
}

// PlatformCompare is one platform's comparison.
type PlatformCompare struct {
	Platform   string `json:"platform"`
	Digest     string `json:"digest"`
	BaseDigest string `json:"base-digest,omitempty"`
	// Missing says the base has no image of this platform.
	Missing   bool      `json:"missing,omitempty"`
	New       []Finding `json:"new"`
	Fixed     []Finding `json:"fixed"`
	Unchanged int       `json:"unchanged"`
	// Counts and BaseCounts are the findings by severity of the image
	// and of the base.
	Counts     map[severity.Severity]int `json:"counts"`
	BaseCounts map[severity.Severity]int `json:"base-counts"`
	Packages   PackageDiff               `json:"packages"`
	// Size and BaseSize are the compressed sizes (config and layers).
	Size     int64 `json:"size"`
	BaseSize int64 `json:"base-size"`
	Layers   int   `json:"layers"`
	// BaseLayers counts the base's layers; NewLayers are the image's
	// layers the base does not have, by digest.
	BaseLayers int      `json:"base-layers"`
	NewLayers  []string `json:"new-layers"`
	// FROM is the image's base image (org.opencontainers.image.base.name
	// and .digest), BaseFROM the compared base's, when they say.
	FROM     string `json:"from,omitempty"`
	BaseFROM string `json:"base-from,omitempty"`
}

// Package is one package of an SBOM.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is the package's ecosystem (purl type: deb, apk, golang, …).
	Type string `json:"type,omitempty"`
}

// PackageChange is a package whose version changed.
type PackageChange struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	From string `json:"from"`
	To   string `json:"to"`
}

// PackageDiff is what changed between two SBOMs.
type PackageDiff struct {
	Added      []Package       `json:"added"`
	Removed    []Package       `json:"removed"`
	Upgraded   []PackageChange `json:"upgraded"`
	Downgraded []PackageChange `json:"downgraded"`
}
