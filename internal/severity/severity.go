// Package severity is the one ordered type of a vulnerability's severity,
// by Trivy's names: the input's list, the plan's gate, a finding, and the
// order every report lists them in.
package severity

import (
	"fmt"
	"slices"
	"strings"
)

// Severity is one of Trivy's severity names. Its order is Rank's, not the
// string's.
type Severity string

// The severities, lowest first.
const (
	Unknown  Severity = "UNKNOWN"
	Low      Severity = "LOW"
	Medium   Severity = "MEDIUM"
	High     Severity = "HIGH"
	Critical Severity = "CRITICAL"
)

// ascending is every severity, lowest first.
var ascending = []Severity{Unknown, Low, Medium, High, Critical}

// Ascending is every severity, lowest first (as the input's help lists
// them).
func Ascending() []Severity { return slices.Clone(ascending) }

// Descending is every severity, highest first (as reports list them).
func Descending() []Severity {
	d := Ascending()
	slices.Reverse(d)
	return d
}

// Parse reads a severity name, in any case, trimmed.
func Parse(s string) (Severity, error) {
	sev := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if sev.Rank() < 0 {
		return "", fmt.Errorf("%q is not a severity (expected a list of %s)", s, strings.Join(Strings(ascending), ", "))
	}
	return sev, nil
}

// ParseList reads a list of names in the order given, dropping repeats.
func ParseList(names []string) ([]Severity, error) {
	var out []Severity
	for _, n := range names {
		s, err := Parse(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Rank orders severities: 0 for UNKNOWN up to 4 for CRITICAL, -1 for a
// name that is not a severity.
func (s Severity) Rank() int { return slices.Index(ascending, s) }

// Compare orders a and b by rank, as cmp.Compare does.
func Compare(a, b Severity) int { return a.Rank() - b.Rank() }

// String is the severity's name.
func (s Severity) String() string { return string(s) }

// Strings renders severities by name.
func Strings(ss []Severity) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
