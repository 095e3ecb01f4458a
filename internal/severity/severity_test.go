package severity

import (
	"slices"
	"testing"
)

func TestOrderAndParse(t *testing.T) {
	if !slices.IsSortedFunc(Ascending(), Compare) {
		t.Errorf("Ascending %q is not in rank order", Ascending())
	}
	if got := Strings(Descending()); !slices.Equal(got, []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}) {
		t.Errorf("Descending = %q", got)
	}
	got, err := ParseList([]string{"high", " Critical ", "HIGH", "low"})
	if err != nil || !slices.Equal(got, []Severity{High, Critical, Low}) {
		t.Errorf("ParseList = %q, %v; want HIGH, CRITICAL, LOW", got, err)
	}
	if _, err := Parse("SEVERE"); err == nil {
		t.Error("SEVERE parsed")
	}
	if Severity("SEVERE").Rank() != -1 || Compare(Critical, Unknown) <= 0 {
		t.Error("rank order broken")
	}
}
