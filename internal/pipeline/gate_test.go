package pipeline

import (
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/severity"
)

// gate: new fails on a blocking finding the compared base does not have,
// not on one it has; with no comparison it judges every finding.
func TestGateNew(t *testing.T) {
	old := Finding{ID: "CVE-2099-0001", Severity: severity.High, Package: "openssl", Installed: "3.0.11"}
	added := Finding{ID: "CVE-2099-0010", Severity: severity.High, Package: "bash", Installed: "5.2"}
	scan := func(blocking ...Finding) *ScanResult {
		return &ScanResult{Passed: false, Verdict: "gate failed", Threshold: []severity.Severity{severity.High}, Blocking: blocking}
	}
	compared := &CompareResult{Base: "r:main", Compared: true, New: []Finding{added}}
	for _, c := range []struct {
		name    string
		gateNew bool
		scan    *ScanResult
		compare *CompareResult
		fails   string // "" when the gate passes
	}{
		{"all, old finding", false, scan(old), compared, "gate failed"},
		{"new, old finding only", true, scan(old), compared, ""},
		{"new, added finding", true, scan(old, added), compared, "CVE-2099-0010 in bash 5.2"},
		{"new, no base", true, scan(old), &CompareResult{Base: "r:main"}, "gate failed"},
		{"new, not compared at all", true, scan(old), nil, "gate failed"},
		{"new, passed", true, &ScanResult{Passed: true}, compared, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &Plan{Scan: ScanPlan{Fail: true, GateNew: c.gateNew}}
			err := gate(p, &Result{Scan: c.scan, Compare: c.compare})
			switch {
			case c.fails == "" && err != nil:
				t.Errorf("gate failed: %v", err)
			case c.fails != "" && (err == nil || !strings.Contains(err.Error(), c.fails)):
				t.Errorf("gate: %v, want a failure naming %q", err, c.fails)
			}
		})
	}
}
