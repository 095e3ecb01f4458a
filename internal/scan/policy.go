package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	dbTypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/result"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
)

// DefaultSeverity is the gate's default threshold.
var DefaultSeverity = []severity.Severity{severity.Critical, severity.High}

// policy is the plan's gate, parsed.
type policy struct {
	threshold      []dbTypes.Severity // severities that fail the gate
	ignoreStatuses []dbTypes.Status   // ignore-unfixed: every status but "fixed"
	ignores        []result.IgnoreConfig
	// defaultBranchImage names the default branch's image in the GitLab
	// report (ScanPlan.DefaultBranchImage).
	defaultBranchImage string
}

// newPolicy parses the plan's severities and ignore files (in both of
// Trivy's formats, .trivyignore and .trivyignore.yaml, with Trivy's own
// parser: entries past their expiry date — "exp:YYYY-MM-DD" or
// expired_at — are dropped as of clock.Now(ctx)).
func newPolicy(ctx context.Context, p *pipeline.ScanPlan) (*policy, error) {
	sevs := p.Severity
	if len(sevs) == 0 {
		sevs = DefaultSeverity
	}
	pol := &policy{defaultBranchImage: p.DefaultBranchImage}
	for _, s := range sevs {
		sev, err := dbTypes.NewSeverity(s.String())
		if err != nil {
			return nil, errs.Input("severity", "%q is not a severity (expected a list of %s)", s, strings.Join(severity.Strings(severity.Ascending()), ", "))
		}
		if !slices.Contains(pol.threshold, sev) {
			pol.threshold = append(pol.threshold, sev)
		}
	}
	// Highest first, for the verdict.
	sort.Slice(pol.threshold, func(i, j int) bool { return pol.threshold[i] > pol.threshold[j] })
	if p.IgnoreUnfixed {
		// As Trivy's --ignore-unfixed: a shorthand for ignoring every
		// status but "fixed".
		for _, s := range dbTypes.Statuses {
			if st := dbTypes.NewStatus(s); st != dbTypes.StatusFixed {
				pol.ignoreStatuses = append(pol.ignoreStatuses, st)
			}
		}
	}
	for _, f := range p.TrivyIgnores {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Input("trivyignores", "ignore file %s does not exist", f)
		} else if err != nil {
			return nil, errs.WrapInput("trivyignores", err, "ignore file %s", f)
		}
		conf, err := result.ParseIgnoreFile(ctx, f)
		if err != nil {
			return nil, errs.WrapInput("trivyignores", err, "ignore file %s", f)
		}
		pol.ignores = append(pol.ignores, conf)
	}
	return pol, nil
}

// thresholdSeverities is the threshold in slipway's type.
func (p *policy) thresholdSeverities() []severity.Severity {
	out := make([]severity.Severity, len(p.threshold))
	for i, s := range p.threshold {
		out[i] = severity.Severity(s.String())
	}
	return out
}

// allSeverities is every severity, for the reports that are not limited
// to the threshold.
var allSeverities = []dbTypes.Severity{
	dbTypes.SeverityCritical, dbTypes.SeverityHigh, dbTypes.SeverityMedium, dbTypes.SeverityLow, dbTypes.SeverityUnknown,
}

// cloneReport copies what filtering changes.
func cloneReport(r types.Report) types.Report {
	out := r
	out.Results = make(types.Results, len(r.Results))
	for i, res := range r.Results {
		res.Vulnerabilities = slices.Clone(res.Vulnerabilities)
		res.ModifiedFindings = slices.Clone(res.ModifiedFindings)
		out.Results[i] = res
	}
	return out
}

// apply returns the report as the policy sees it, with Trivy's own
// filter (pkg/result): every severity, ignore-unfixed and the ignore
// files applied (ignored findings are kept as Trivy's modified findings,
// attributed to their file).
func (p *policy) apply(ctx context.Context, raw types.Report) (types.Report, error) {
	r := cloneReport(raw)
	confs := p.ignores
	if len(confs) == 0 {
		confs = []result.IgnoreConfig{{}}
	}
	for i := range r.Results {
		for _, conf := range confs {
			if err := result.FilterResult(ctx, &r.Results[i], conf, result.FilterOptions{
				Severities:     allSeverities,
				IgnoreStatuses: p.ignoreStatuses,
			}); err != nil {
				return types.Report{}, fmt.Errorf("filtering the findings: %w", err)
			}
		}
	}
	return r, nil
}

// gate narrows a policy-filtered report to the threshold severities.
func (p *policy) gate(ctx context.Context, filtered types.Report) (types.Report, error) {
	r := cloneReport(filtered)
	for i := range r.Results {
		if err := result.FilterResult(ctx, &r.Results[i], result.IgnoreConfig{}, result.FilterOptions{Severities: p.threshold}); err != nil {
			return types.Report{}, fmt.Errorf("filtering the findings: %w", err)
		}
	}
	return r, nil
}

// vulnKey identifies a finding across platforms and reports: the same
// vulnerability in the same package version at the same path.
func vulnKey(v types.DetectedVulnerability) string {
	return strings.Join([]string{v.VulnerabilityID, v.PkgName, v.InstalledVersion, v.PkgPath}, "\x00")
}

// findings lists the distinct findings of the platforms' reports, worst
// first: by severity, then those with a fix, then by ID and package.
func findings(reports []platformReport, pick func(platformReport) types.Report) []Finding {
	byKey := map[string]int{}
	var out []Finding
	for _, pr := range reports {
		for _, res := range pick(pr).Results {
			for _, v := range res.Vulnerabilities {
				f := Finding{
					ID: v.VulnerabilityID, Severity: severityOf(v), Package: v.PkgName, Installed: v.InstalledVersion,
					Fixed: v.FixedVersion, Title: v.Title, URL: v.PrimaryURL, Path: v.PkgPath,
				}
				if v.Status != dbTypes.StatusUnknown {
					f.Status = v.Status.String()
				}
				key := vulnKey(v)
				if i, ok := byKey[key]; ok {
					if pr.Platform != "" && !slices.Contains(out[i].Platforms, pr.Platform) {
						out[i].Platforms = append(out[i].Platforms, pr.Platform)
					}
					continue
				}
				if pr.Platform != "" {
					f.Platforms = []string{pr.Platform}
				}
				byKey[key] = len(out)
				out = append(out, f)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if c := severity.Compare(a.Severity, b.Severity); c != 0 {
			return c > 0
		}
		if (a.Fixed != "") != (b.Fixed != "") {
			return a.Fixed != ""
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Package < b.Package
	})
	return out
}

// severityOf is the severity Trivy reports for v, the one its own table,
// JSON and exit code use. Trivy v0.74 deprecates the field for
// VendorSeverity, but VendorSeverity holds only the vendors' ratings: the
// one Trivy settles on (an advisory's own, or the data source's when no
// vendor rates it) is still only in Severity, until Trivy DB v3.
func severityOf(v types.DetectedVulnerability) severity.Severity {
	s := v.Severity //nolint:staticcheck // SA1019: Trivy's effective severity, see above
	if s == "" {
		return severity.Unknown
	}
	return severity.Severity(s)
}

// countIgnored counts the distinct findings the ignore files left out.
func countIgnored(reports []platformReport) int {
	seen := map[string]bool{}
	for _, pr := range reports {
		for _, res := range pr.filtered.Results {
			for _, m := range res.ModifiedFindings {
				v, ok := m.Finding.(types.DetectedVulnerability)
				if !ok {
					continue
				}
				seen[vulnKey(v)] = true
			}
		}
	}
	return len(seen)
}

// verdict says what the gate decided, with the counts per severity and
// the worst findings.
func (p *policy) verdict(counts map[severity.Severity]int, blocking []Finding, ignored, unfixed int, ignoreFiles []string) (bool, string) {
	var b strings.Builder
	names := severity.Strings(p.thresholdSeverities())
	threshold := strings.Join(names, ",")
	passed := len(blocking) == 0
	if passed {
		fmt.Fprintf(&b, "gate passed: no %s vulnerability (threshold %s)", strings.Join(names, " or "), threshold)
		if below := countList(counts, nil); below != "" {
			fmt.Fprintf(&b, "; below the threshold: %s", below)
		}
	} else {
		fmt.Fprintf(&b, "gate failed: %s (threshold %s); worst: %s", countList(counts, p.threshold), threshold, worst(blocking, 3))
	}
	if ignored > 0 {
		fmt.Fprintf(&b, "; %d ignored by %s", ignored, strings.Join(ignoreFiles, ", "))
	}
	if unfixed > 0 {
		fmt.Fprintf(&b, "; %d without a fix left out (ignore-unfixed)", unfixed)
	}
	return passed, b.String()
}

// countList renders "1 CRITICAL, 2 HIGH" for the given severities (every
// severity when only is nil), highest first, zero counts left out.
func countList(counts map[severity.Severity]int, only []dbTypes.Severity) string {
	var parts []string
	for _, sev := range allSeverities {
		if only != nil && !slices.Contains(only, sev) {
			continue
		}
		if n := counts[severity.Severity(sev.String())]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	return strings.Join(parts, ", ")
}

// worst describes the first n vulnerabilities of fs (worst first), each
// with the packages it was found in: "CVE-1 (HIGH) in libssl3 3.0.2,
// openssl 3.0.2 (fixed in 3.0.7)".
func worst(fs []Finding, n int) string {
	var ids []string
	byID := map[string][]Finding{}
	for _, f := range fs {
		if _, ok := byID[f.ID]; !ok {
			ids = append(ids, f.ID)
		}
		byID[f.ID] = append(byID[f.ID], f)
	}
	var parts []string
	for i, id := range ids {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-n))
			break
		}
		group := byID[id]
		sameFix := true
		for _, f := range group[1:] {
			sameFix = sameFix && f.Fixed == group[0].Fixed
		}
		var pkgs []string
		for _, f := range group {
			pkg := f.Package + " " + f.Installed
			if !sameFix {
				pkg += fixNote(f)
			}
			pkgs = append(pkgs, pkg)
		}
		s := fmt.Sprintf("%s (%s) in %s", id, group[0].Severity, strings.Join(pkgs, ", "))
		if sameFix {
			s += fixNote(group[0])
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func fixNote(f Finding) string {
	if f.Fixed != "" {
		return " (fixed in " + f.Fixed + ")"
	}
	return " (no fix yet)"
}
