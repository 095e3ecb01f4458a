package config

import (
	"os"
	"sort"
)

// OSEnv returns the process environment.
func OSEnv() Env { return osEnv{} }

type osEnv struct{}

func (osEnv) Lookup(key string) (string, bool) { return os.LookupEnv(key) }
func (osEnv) Environ() []string                { return os.Environ() }

// MapEnv returns an Env holding m; for tests and for callers that
// describe an environment as a map.
func MapEnv(m map[string]string) Env { return mapEnv(m) }

type mapEnv map[string]string

func (m mapEnv) Lookup(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

func (m mapEnv) Environ() []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
