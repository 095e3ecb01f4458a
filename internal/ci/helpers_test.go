package ci

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// with returns a copy of c changed by change.
func with(c Context, change func(*Context)) Context {
	change(&c)
	return c
}

// withEnv returns a copy of env with the key-value pairs kv set.
func withEnv(env map[string]string, kv ...string) map[string]string {
	env = maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// assertContext compares got with want field by field, but Forge, which
// forge_test.go checks.
func assertContext(t *testing.T, got, want *Context) {
	t.Helper()
	g, w := reflect.ValueOf(*got), reflect.ValueOf(*want)
	for i := range g.NumField() {
		if g.Type().Field(i).Name == "Forge" {
			continue
		}
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if gt, ok := gf.(time.Time); ok && gt.Equal(wf.(time.Time)) {
			continue
		}
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s = %#v, want %#v", g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

func assertContains(t *testing.T, s, substr string) {
	t.Helper()
	if !strings.Contains(s, substr) {
		t.Errorf("%q does not contain %q", s, substr)
	}
}
