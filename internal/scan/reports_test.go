package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/aquasecurity/trivy/pkg/report"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestSARIFValidates runs Microsoft's SARIF validator on the SARIF
// report. `sarif-multitool validate` exits 0 whatever it finds, so its
// own SARIF output (-o) is read: any error-level result fails the test.
func TestSARIFValidates(t *testing.T) {
	// @microsoft/sarif-multitool: a .NET single-file binary behind a node shim
	tool := testenv.NodeTool(t, "sarif-multitool")
	e := newEnv(t)
	scanOK(t, e, e.plan("CRITICAL"), debianBuild(t))
	sarifPath := filepath.Join(e.out, SARIFReport)

	// Not limited by the threshold: the MEDIUM findings are there.
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	testenv.ReadJSON(t, sarifPath, &log)
	var rules []string
	for _, r := range log.Runs[0].Results {
		rules = append(rules, r.RuleID)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(rules) != 5 || !strings.Contains(strings.Join(rules, " "), "SLIPWAY-DEMO-0003") {
		t.Errorf("SARIF %s with %d runs and results %v; want 2.1.0, one run, all 5 findings", log.Version, len(log.Runs), rules)
	}

	validateSARIF(t, tool, sarifPath)

	// The combined SARIF of a multi-platform build: one run, both images.
	amd, err := fixture.DemoAlpineImage("amd64")
	if err != nil {
		t.Fatal(err)
	}
	arm, err := fixture.DemoAlpineImage("arm64")
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t)
	scanOK(t, e, e.plan("CRITICAL"), writeLayout(t, map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm}))
	testenv.ReadJSON(t, filepath.Join(e.out, SARIFReport), &log)
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != 6 {
		t.Errorf("multi-platform SARIF: %d runs, want 1 with 6 results (3 findings × 2 images)", len(log.Runs))
	}
	validateSARIF(t, tool, filepath.Join(e.out, SARIFReport))
}

// validateSARIF fails the test on any error-level result of
// `sarif-multitool validate`, read from its own SARIF output.
func validateSARIF(t *testing.T, tool, sarifPath string) {
	t.Helper()
	validation := filepath.Join(t.TempDir(), "validation.sarif")
	cmd := exec.Command(tool, "validate", "-o", validation, sarifPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sarif-multitool: %v\n%s", err, out)
	}
	var v struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	testenv.ReadJSON(t, validation, &v)
	if len(v.Runs) == 0 || len(v.Runs[0].Invocations) == 0 || !v.Runs[0].Invocations[0].ExecutionSuccessful {
		t.Fatalf("the validator did not run successfully:\n%s", out)
	}
	for _, r := range v.Runs[0].Results {
		switch r.Level {
		case "error":
			t.Errorf("SARIF validation error %s: %s", r.RuleID, r.Message.Text)
		default:
			t.Logf("SARIF validation %s %s: %s", r.Level, r.RuleID, r.Message.Text)
		}
	}
}

// TestSARIFValidatorCatchesErrors makes sure the check above can fail.
func TestSARIFValidatorCatchesErrors(t *testing.T) {
	// @microsoft/sarif-multitool: a .NET single-file binary behind a node shim
	tool := testenv.NodeTool(t, "sarif-multitool")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.sarif")
	if err := os.WriteFile(bad, []byte(`{"version":"2.1.0","runs":[{"tool":{}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	validation := filepath.Join(dir, "validation.sarif")
	if out, err := exec.Command(tool, "validate", "-o", validation, bad).CombinedOutput(); err != nil {
		t.Fatalf("sarif-multitool: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(validation); err != nil || !bytes.Contains(b, []byte(`"level": "error"`)) {
		t.Errorf("no error-level result for an invalid SARIF log: %v\n%s", err, b)
	}
}

// The fields GitLab's container-scanning report schema 15.x requires.
var (
	gitLabTime   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$`)
	gitLabSemver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	uuidPattern  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func checkGitLabSchema(t *testing.T, doc map[string]any) {
	t.Helper()
	str := func(m map[string]any, path, key string) string {
		s, ok := m[key].(string)
		if !ok || s == "" {
			t.Errorf("%s.%s: missing or not a non-empty string (%v)", path, key, m[key])
		}
		return s
	}
	obj := func(m map[string]any, path, key string) map[string]any {
		o, ok := m[key].(map[string]any)
		if !ok {
			t.Errorf("%s.%s: missing or not an object", path, key)
			return map[string]any{}
		}
		return o
	}
	if v := str(doc, "", "version"); !gitLabSemver.MatchString(v) || !strings.HasPrefix(v, "15.") {
		t.Errorf("version %q: want a 15.x schema version", v)
	}
	scan := obj(doc, "", "scan")
	for _, tool := range []string{"analyzer", "scanner"} {
		o := obj(scan, "scan", tool)
		for _, k := range []string{"id", "name", "version"} {
			str(o, "scan."+tool, k)
		}
		str(obj(o, "scan."+tool, "vendor"), "scan."+tool+".vendor", "name")
	}
	if str(scan, "scan", "type") != "container_scanning" {
		t.Errorf("scan.type = %v", scan["type"])
	}
	for _, k := range []string{"start_time", "end_time"} {
		if s := str(scan, "scan", k); !gitLabTime.MatchString(s) {
			t.Errorf("scan.%s = %q: want YYYY-MM-DDTHH:MM:SS", k, s)
		}
	}
	if s := str(scan, "scan", "status"); s != "success" && s != "failure" {
		t.Errorf("scan.status = %q", s)
	}
	vulns, ok := doc["vulnerabilities"].([]any)
	if !ok {
		t.Fatalf("vulnerabilities: missing or not an array")
	}
	ids := map[string]bool{}
	for i, x := range vulns {
		v, _ := x.(map[string]any)
		path := fmt.Sprintf("vulnerabilities[%d]", i)
		id := str(v, path, "id")
		if !uuidPattern.MatchString(id) || ids[id] {
			t.Errorf("%s.id %q: want a unique UUID", path, id)
		}
		ids[id] = true
		switch v["severity"] {
		case "Info", "Unknown", "Low", "Medium", "High", "Critical":
		default:
			t.Errorf("%s.severity = %v", path, v["severity"])
		}
		idents, _ := v["identifiers"].([]any)
		if len(idents) == 0 {
			t.Errorf("%s.identifiers: want at least one", path)
		}
		for _, y := range idents {
			ident, _ := y.(map[string]any)
			for _, k := range []string{"type", "name", "value"} {
				str(ident, path+".identifiers[]", k)
			}
		}
		loc := obj(v, path, "location")
		str(loc, path+".location", "operating_system")
		str(loc, path+".location", "image")
		dep := obj(loc, path+".location", "dependency")
		str(obj(dep, path+".location.dependency", "package"), path+".location.dependency.package", "name")
		str(dep, path+".location.dependency", "version")
		if n, _ := v["name"].(string); len(n) > gitLabMaxName {
			t.Errorf("%s.name longer than %d", path, gitLabMaxName)
		}
	}
}

// TestGitLabReport checks the report against the schema's requirements
// and, finding for finding, against what Trivy's own contrib/gitlab.tpl
// renders from the same scan (Trivy's JSON report of it, through Trivy's
// template writer): identifiers, severity, solution and location.
func TestGitLabReport(t *testing.T) {
	e := newEnv(t)
	scanOK(t, e, e.plan("HIGH"), debianBuild(t))

	var doc map[string]any
	testenv.ReadJSON(t, filepath.Join(e.out, GitLabFile), &doc)
	checkGitLabSchema(t, doc)
	var ours GitLabReport
	testenv.ReadJSON(t, filepath.Join(e.out, GitLabFile), &ours)
	if len(ours.Vulnerabilities) != 5 {
		t.Errorf("%d vulnerabilities, want all 5 findings (every severity)", len(ours.Vulnerabilities))
	}
	if ours.Scan.Scanner.Version != linkedTrivy {
		t.Errorf("scanner version = %q, want the linked Trivy's %s", ours.Scan.Scanner.Version, linkedTrivy)
	}

	// The oracle: Trivy's template over Trivy's JSON report of the scan.
	var trivyReport types.Report
	testenv.ReadJSON(t, filepath.Join(e.out, JSONReport), &trivyReport)
	var rendered bytes.Buffer
	tw, err := report.NewTemplateWriter(&rendered, "@"+gitlabTemplate(t), trivyVersion())
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Write(context.Background(), trivyReport); err != nil {
		t.Fatal(err)
	}
	var oracle GitLabReport
	if err := json.Unmarshal(rendered.Bytes(), &oracle); err != nil {
		t.Fatalf("gitlab.tpl output: %v\n%s", err, rendered.String())
	}
	if len(oracle.Vulnerabilities) != len(ours.Vulnerabilities) {
		t.Fatalf("gitlab.tpl renders %d vulnerabilities, slipway %d", len(oracle.Vulnerabilities), len(ours.Vulnerabilities))
	}
	key := func(v GitLabVulnerability) string {
		return v.Identifiers[0].Value + " " + v.Location.Dependency.Package.Name + " " + v.Location.Dependency.Version
	}
	byKey := map[string]GitLabVulnerability{}
	for _, v := range ours.Vulnerabilities {
		byKey[key(v)] = v
	}
	sawURL := false
	for _, want := range oracle.Vulnerabilities {
		got, ok := byKey[key(want)]
		if !ok {
			t.Errorf("gitlab.tpl has %s, slipway does not", key(want))
			continue
		}
		if len(got.Identifiers) != 1 {
			t.Errorf("%s: identifiers %+v", key(want), got.Identifiers)
			continue
		}
		gi, wi := got.Identifiers[0], want.Identifiers[0]
		if gi.Name != wi.Name || gi.Value != wi.Value || gi.URL != wi.URL {
			t.Errorf("%s: identifier %+v, gitlab.tpl %+v", key(want), gi, wi)
		}
		// gitlab.tpl calls every identifier a CVE; slipway types them by
		// prefix, which agrees for CVE IDs.
		if strings.HasPrefix(wi.Value, "CVE-") && gi.Type != wi.Type {
			t.Errorf("%s: identifier type %q, gitlab.tpl %q", key(want), gi.Type, wi.Type)
		}
		sawURL = sawURL || wi.URL != ""
		if got.Severity != want.Severity || got.Solution != want.Solution {
			t.Errorf("%s: severity %q solution %q, gitlab.tpl %q %q", key(want), got.Severity, got.Solution, want.Severity, want.Solution)
		}
		if got.Location != want.Location {
			t.Errorf("%s: location %+v, gitlab.tpl %+v", key(want), got.Location, want.Location)
		}
		if got.Name != want.Name || got.Description != want.Description {
			t.Errorf("%s: name/description differ from gitlab.tpl", key(want))
		}
	}
	if !sawURL {
		t.Errorf("no identifier with a URL compared (CVE-2099-0001 should have Trivy's primary URL)")
	}
}

// gitlabTemplate is contrib/gitlab.tpl of the linked Trivy, in the module
// cache.
func gitlabTemplate(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "github.com", "aquasecurity", "trivy@v"+trivyVersion(), "contrib", "gitlab.tpl")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}
