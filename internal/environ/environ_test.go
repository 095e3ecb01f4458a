package environ

import (
	"slices"
	"testing"
)

func TestMap(t *testing.T) {
	src := map[string]string{"B": "2", "A": "1", "EMPTY": ""}
	e := Map(src)
	src["A"] = "changed"
	if v, ok := e.Lookup("A"); v != "1" || !ok {
		t.Errorf("Lookup(A) = %q, %v: the map was not copied", v, ok)
	}
	if v, ok := e.Lookup("EMPTY"); v != "" || !ok {
		t.Errorf("Lookup(EMPTY) = %q, %v", v, ok)
	}
	if _, ok := e.Lookup("NONE"); ok || e.Get("NONE") != "" {
		t.Error("an unset key is set")
	}
	if got := e.Environ(); !slices.Equal(got, []string{"A=1", "B=2", "EMPTY="}) {
		t.Errorf("Environ = %q", got)
	}
}

func TestOS(t *testing.T) {
	t.Setenv("SLIPWAY_ENVIRON_TEST", "x")
	if OS().Get("SLIPWAY_ENVIRON_TEST") != "x" || !slices.Contains(OS().Environ(), "SLIPWAY_ENVIRON_TEST=x") {
		t.Error("OS() does not see the process environment")
	}
}
