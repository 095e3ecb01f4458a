package config

import (
	"strings"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/errs"
)

// BuildSecrets returns every build secret from secrets, secret-files and
// secret-envs.
func (c *Config) BuildSecrets() ([]attrs.Secret, error) {
	var out []attrs.Secret
	for i, e := range c.Secrets {
		s, err := attrs.ParseSecret(e)
		if err != nil {
			return nil, errs.Input("secrets", "entry %d is malformed: %v", i+1, err)
		}
		out = append(out, s)
	}
	for _, e := range c.SecretFiles {
		k, v, _ := strings.Cut(e, "=")
		out = append(out, attrs.Secret{ID: k, Src: v})
	}
	for _, e := range c.SecretEnvs {
		k, v, _ := strings.Cut(e, "=")
		out = append(out, attrs.Secret{ID: k, Env: v})
	}
	return out, nil
}

// ResolvedSecrets returns the build secrets with every env-sourced value
// read from the environment (Value set, Env kept to name the source). A
// variable that is not set is an input error; file sources are read by
// the build.
func (l *Loaded) ResolvedSecrets() ([]attrs.Secret, error) {
	secrets, err := l.BuildSecrets()
	if err != nil {
		return nil, err
	}
	for i, s := range secrets {
		if s.Env == "" {
			continue
		}
		v, ok := l.env.Lookup(s.Env)
		if !ok {
			return nil, errs.Input("secrets", "secret %q: environment variable %s is not set", s.ID, s.Env)
		}
		secrets[i].Value = v
	}
	return secrets, nil
}

// GHACache is what BuildKit's GitHub Actions cache backend needs, from the
// runner's environment.
type GHACache struct {
	URL   string // ACTIONS_CACHE_URL (cache service v1)
	URLv2 string // ACTIONS_RESULTS_URL (v2; a container action gets no ACTIONS_CACHE_SERVICE_V2)
	Token string // ACTIONS_RUNTIME_TOKEN
}

// GHACache reads the runner's cache service settings; ok is false outside
// GitHub Actions (no token).
func (l *Loaded) GHACache() (c GHACache, ok bool) {
	c.URL, _ = l.env.Lookup("ACTIONS_CACHE_URL")
	c.URLv2, _ = l.env.Lookup("ACTIONS_RESULTS_URL")
	c.Token, _ = l.env.Lookup("ACTIONS_RUNTIME_TOKEN")
	return c, c.Token != "" && (c.URL != "" || c.URLv2 != "")
}

// ResolvedBuildArgs returns the build arguments' values by name. A bare
// NAME takes its value from the environment, as buildx does, and is left
// out when the variable is not set. (SOURCE_DATE_EPOCH is Now.)
func (l *Loaded) ResolvedBuildArgs() map[string]string {
	out := map[string]string{}
	for _, a := range l.BuildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, ok = l.env.Lookup(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// RunnerTemp is GitHub Actions' RUNNER_TEMP, "" elsewhere: the scan keeps
// its vulnerability DB under it so a workflow can cache it.
func (l *Loaded) RunnerTemp() string {
	v, _ := l.env.Lookup("RUNNER_TEMP")
	return v
}

// Login is one registry-auth entry: host=user:password.
type Login struct {
	Host, Username, Password string
}

// parseLogin reads host=user:password; ok is false when a part is missing.
func parseLogin(e string) (l Login, ok bool) {
	host, cred, ok1 := strings.Cut(e, "=")
	user, pw, ok2 := strings.Cut(cred, ":")
	l = Login{Host: strings.TrimSpace(host), Username: user, Password: pw}
	return l, ok1 && ok2 && l.Host != "" && user != ""
}

// RegistryLogins parses the registry-auth entries. A malformed entry is an
// input error naming its position and host, never its password.
func (c *Config) RegistryLogins() ([]Login, error) {
	var out []Login
	for i, e := range c.RegistryAuth {
		l, ok := parseLogin(e)
		if !ok {
			if !strings.Contains(e, "=") {
				// Nothing of the entry is shown: it may be user:password
				// with the host forgotten.
				return nil, errs.Input("registry-auth", "entry %d has no host (expected host=user:password)", i+1)
			}
			return nil, errs.Input("registry-auth", "entry %d (host %q) is not host=user:password", i+1, l.Host)
		}
		out = append(out, l)
	}
	return out, nil
}
