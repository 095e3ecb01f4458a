package ci

import (
	"maps"
	"os"
)

// Env is the environment slipway reads. Providers receive one instead of
// calling os.Getenv, so that tests can describe a CI run as a map.
type Env interface {
	// Lookup returns the value of key and whether it is set.
	Lookup(key string) (string, bool)
	// Get returns the value of key, or "" when it is unset.
	Get(key string) string
}

// EnvFunc adapts a lookup function, such as os.LookupEnv, to Env.
type EnvFunc func(key string) (string, bool)

// Lookup calls f.
func (f EnvFunc) Lookup(key string) (string, bool) { return f(key) }

// Get returns the value of key, or "" when it is unset.
func (f EnvFunc) Get(key string) string {
	v, _ := f(key)
	return v
}

// OSEnv returns the process environment. It is the only place in this
// package that reads it.
func OSEnv() Env { return EnvFunc(os.LookupEnv) }

// MapEnv returns an Env holding a copy of m; for tests.
func MapEnv(m map[string]string) Env {
	c := maps.Clone(m)
	return EnvFunc(func(key string) (string, bool) {
		v, ok := c[key]
		return v, ok
	})
}
