// Package environ is the one reader of the process environment. The CI
// providers (internal/ci) and the configuration (internal/config) take an
// Env instead of calling os.Getenv, so that a test describes a run's
// environment as a map and the rest of slipway never reads it.
package environ

import (
	"maps"
	"os"
	"slices"
)

// Env is an environment.
type Env interface {
	// Lookup returns the value of key and whether it is set.
	Lookup(key string) (string, bool)
	// Get returns the value of key, "" when it is unset.
	Get(key string) string
	// Environ returns every KEY=value, sorted.
	Environ() []string
}

// OS returns the process environment.
func OS() Env { return osEnv{} }

type osEnv struct{}

func (osEnv) Lookup(key string) (string, bool) { return os.LookupEnv(key) }
func (osEnv) Get(key string) string            { return os.Getenv(key) }
func (osEnv) Environ() []string {
	e := os.Environ()
	slices.Sort(e)
	return e
}

// Map returns an Env holding a copy of m.
func Map(m map[string]string) Env { return mapEnv(maps.Clone(m)) }

type mapEnv map[string]string

func (m mapEnv) Lookup(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

func (m mapEnv) Get(key string) string { return m[key] }

func (m mapEnv) Environ() []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
