package scan

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	dbTypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/slipway-ci/slipway/internal/version"
)

// GitLab's container-scanning report, schema 15.x
// (security-report-schemas dist/container-scanning-report-format.json),
// written from Trivy's report. Every field the schema requires is set:
// version, scan (analyzer and scanner with id, name, version and
// vendor.name; type; start_time and end_time as YYYY-MM-DDTHH:MM:SS;
// status) and vulnerabilities, each with id, identifiers (type, name,
// value) and location (dependency, operating_system, image).
const (
	GitLabSchemaVersion = "15.0.7"
	gitLabSchemaURL     = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v" +
		GitLabSchemaVersion + "/dist/container-scanning-report-format.json"
	gitLabTimeFormat = "2006-01-02T15:04:05"

	// Schema limits.
	gitLabMaxName        = 255
	gitLabMaxDescription = 1048576
	gitLabMaxSolution    = 7000
)

// GitLabReport is the report's top level.
type GitLabReport struct {
	Version         string                `json:"version"`
	Schema          string                `json:"schema,omitempty"`
	Scan            GitLabScan            `json:"scan"`
	Vulnerabilities []GitLabVulnerability `json:"vulnerabilities"`
	Remediations    []any                 `json:"remediations"`
}

// GitLabScan describes the scan.
type GitLabScan struct {
	Analyzer  GitLabTool `json:"analyzer"`
	Scanner   GitLabTool `json:"scanner"`
	Type      string     `json:"type"`
	StartTime string     `json:"start_time"`
	EndTime   string     `json:"end_time"`
	Status    string     `json:"status"`
}

// GitLabTool is the analyzer or the scanner.
type GitLabTool struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	URL     string       `json:"url,omitempty"`
	Version string       `json:"version"`
	Vendor  GitLabVendor `json:"vendor"`
}

// GitLabVendor names a tool's vendor.
type GitLabVendor struct {
	Name string `json:"name"`
}

// GitLabVulnerability is one finding.
type GitLabVulnerability struct {
	ID          string             `json:"id"`
	Name        string             `json:"name,omitempty"`
	Description string             `json:"description,omitempty"`
	Severity    string             `json:"severity"`
	Solution    string             `json:"solution,omitempty"`
	Identifiers []GitLabIdentifier `json:"identifiers"`
	Links       []GitLabLink       `json:"links,omitempty"`
	Location    GitLabLocation     `json:"location"`
}

// GitLabIdentifier is a vulnerability identifier (CVE, GHSA, ...).
type GitLabIdentifier struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
	URL   string `json:"url,omitempty"`
}

// GitLabLink is a reference.
type GitLabLink struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url"`
}

// GitLabLocation is where in the image the finding is.
type GitLabLocation struct {
	Dependency      GitLabDependency `json:"dependency"`
	OperatingSystem string           `json:"operating_system"`
	Image           string           `json:"image"`
	// DefaultBranchImage is the default branch's image (GitLab's
	// analyzer takes it from CS_DEFAULT_BRANCH_IMAGE), so that GitLab
	// matches this image's findings with the default branch's.
	DefaultBranchImage string `json:"default_branch_image,omitempty"`
}

// GitLabDependency is the affected package.
type GitLabDependency struct {
	Package GitLabPackage `json:"package"`
	Version string        `json:"version"`
}

// GitLabPackage names a package.
type GitLabPackage struct {
	Name string `json:"name"`
}

var linkURL = regexp.MustCompile(`^(https?|ftp)://.+`)

// gitLabReport renders the findings of the platform reports. One entry per
// finding per platform image: location.image is the platform image.
func gitLabReport(reports []types.Report, scanner, defaultBranchImage string, start, end time.Time) GitLabReport {
	out := GitLabReport{
		Version: GitLabSchemaVersion,
		Schema:  gitLabSchemaURL,
		Scan: GitLabScan{
			Analyzer: GitLabTool{ID: "slipway", Name: "slipway", URL: "https://github.com/slipway-ci/slipway",
				Version: version.Get().Version, Vendor: GitLabVendor{Name: "slipway"}},
			Scanner: GitLabTool{ID: "trivy", Name: "Trivy", URL: "https://github.com/aquasecurity/trivy/",
				Version: scanner, Vendor: GitLabVendor{Name: "Aqua Security"}},
			Type:      "container_scanning",
			StartTime: start.UTC().Format(gitLabTimeFormat),
			EndTime:   end.UTC().Format(gitLabTimeFormat),
			Status:    "success",
		},
		Vulnerabilities: []GitLabVulnerability{},
		Remediations:    []any{},
	}
	for _, r := range reports {
		osName := "Unknown"
		if r.Metadata.OS != nil && r.Metadata.OS.Family != "" {
			osName = strings.TrimSpace(string(r.Metadata.OS.Family) + " " + r.Metadata.OS.Name)
		}
		image := r.ArtifactName
		for _, res := range r.Results {
			for _, v := range res.Vulnerabilities {
				gv := gitLabVulnerability(v, image, osName)
				gv.Location.DefaultBranchImage = defaultBranchImage
				out.Vulnerabilities = append(out.Vulnerabilities, gv)
			}
		}
	}
	return out
}

func gitLabVulnerability(v types.DetectedVulnerability, image, osName string) GitLabVulnerability {
	name := v.Title
	if name == "" {
		name = v.VulnerabilityID
	}
	solution := "No solution provided"
	if v.FixedVersion != "" {
		solution = fmt.Sprintf("Upgrade %s to %s", v.PkgName, v.FixedVersion)
	}
	id := GitLabIdentifier{Type: identifierType(v.VulnerabilityID), Name: v.VulnerabilityID, Value: v.VulnerabilityID}
	if linkURL.MatchString(v.PrimaryURL) {
		id.URL = v.PrimaryURL
	}
	var links []GitLabLink
	for _, ref := range v.References {
		if linkURL.MatchString(ref) {
			links = append(links, GitLabLink{URL: ref})
		}
	}
	return GitLabVulnerability{
		ID:          gitLabID(image, v),
		Name:        truncate(name, gitLabMaxName),
		Description: truncate(v.Description, gitLabMaxDescription),
		Severity:    gitLabSeverity(string(severityOf(v))),
		Solution:    truncate(solution, gitLabMaxSolution),
		Identifiers: []GitLabIdentifier{id},
		Links:       links,
		Location: GitLabLocation{
			Dependency:      GitLabDependency{Package: GitLabPackage{Name: v.PkgName}, Version: v.InstalledVersion},
			OperatingSystem: osName,
			Image:           image,
		},
	}
}

// identifierType is the identifier's kind from its prefix: "cve" for
// CVE-…, "ghsa" for GHSA-…, the lower-cased prefix otherwise (e.g. "dsa",
// "temp").
func identifierType(id string) string {
	prefix, _, ok := strings.Cut(id, "-")
	if !ok || prefix == "" {
		return "vulnerability"
	}
	return strings.ToLower(prefix)
}

// gitLabSeverity maps Trivy's severities to the schema's enum.
func gitLabSeverity(s string) string {
	switch s {
	case dbTypes.SeverityCritical.String():
		return "Critical"
	case dbTypes.SeverityHigh.String():
		return "High"
	case dbTypes.SeverityMedium.String():
		return "Medium"
	case dbTypes.SeverityLow.String():
		return "Low"
	default:
		return "Unknown"
	}
}

// gitLabID is a stable UUID (version 5 layout, SHA-256 based) of the
// finding in the image, so that the same finding keeps its id between
// runs.
func gitLabID(image string, v types.DetectedVulnerability) string {
	h := sha256.Sum256([]byte(image + "\x00" + vulnKey(v)))
	b := h[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
