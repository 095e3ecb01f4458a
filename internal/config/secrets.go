package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/internal/csvlist"
	"github.com/slipway-ci/slipway/internal/errs"
)

// Secret is one build secret: an id and where its value comes from.
type Secret struct {
	ID    string
	Src   string // file path
	Env   string // environment variable
	Value string // inline value (build-push-action's KEY=value form)
}

// ParseSecret reads a secrets entry: buildx's `id=x,src=file`,
// `id=x,env=VAR` (also type=file|env), or build-push-action's KEY=value.
func ParseSecret(e string) (Secret, error) {
	fields, err := csvlist.Split(e, csvlist.Opts{})
	if err != nil {
		return Secret{}, err
	}
	attrs := map[string]string{}
	buildx := len(fields) > 0
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		switch k {
		case "id", "src", "source", "env", "type", "required":
		default:
			buildx = false
		}
		if !ok {
			buildx = false
		}
		attrs[k] = v
	}
	if first, _, _ := strings.Cut(e, "="); !buildx && (first == "id" || first == "type") && len(fields) > 1 {
		// buildx's form with a typo (scr=, id= empty): not a secret named
		// "id" holding the rest.
		for _, f := range fields {
			k, v, ok := strings.Cut(f, "=")
			switch {
			case !ok:
				return Secret{}, fmt.Errorf("%q is not key=value (expected id=x,src=file or id=x,env=VAR)", k)
			case k == "id" && v == "":
				return Secret{}, fmt.Errorf("id= is empty (expected id=x,src=file or id=x,env=VAR)")
			case k != "id" && k != "src" && k != "source" && k != "env" && k != "type" && k != "required":
				return Secret{}, fmt.Errorf("unknown attribute %q (expected id, src, env, type or required)", k)
			}
		}
	}
	if buildx && attrs["id"] == "" && len(fields) > 1 {
		return Secret{}, fmt.Errorf("id= is empty (expected id=x,src=file or id=x,env=VAR)")
	}
	if !buildx || attrs["id"] == "" {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return Secret{}, fmt.Errorf("expected id=x,src=file, id=x,env=VAR or KEY=value")
		}
		return Secret{ID: k, Value: v}, nil
	}
	s := Secret{ID: attrs["id"], Src: attrs["src"], Env: attrs["env"]}
	if s.Src == "" {
		s.Src = attrs["source"]
	}
	switch attrs["type"] {
	case "", "file", "env":
	default:
		return Secret{}, fmt.Errorf("secret %q: type must be file or env", s.ID)
	}
	if s.Src == "" && s.Env == "" {
		if attrs["type"] == "file" {
			return Secret{}, fmt.Errorf("secret %q: expected src=<file>", s.ID)
		}
		// buildx: with neither, the value comes from the env var named by id.
		s.Env = s.ID
	}
	return s, nil
}

// BuildSecrets returns every build secret from secrets, secret-files and
// secret-envs.
func (c *Config) BuildSecrets() ([]Secret, error) {
	var out []Secret
	for i, e := range c.Secrets {
		s, err := ParseSecret(e)
		if err != nil {
			return nil, errs.Input("secrets", "entry %d is malformed: %v", i+1, err)
		}
		out = append(out, s)
	}
	for _, e := range c.SecretFiles {
		k, v, _ := strings.Cut(e, "=")
		out = append(out, Secret{ID: k, Src: v})
	}
	for _, e := range c.SecretEnvs {
		k, v, _ := strings.Cut(e, "=")
		out = append(out, Secret{ID: k, Env: v})
	}
	return out, nil
}

// ResolvedSecrets returns the build secrets with every env-sourced value
// read from the environment (Value set, Env kept to name the source). A
// variable that is not set is an input error; file sources are read by
// the build.
func (l *Loaded) ResolvedSecrets() ([]Secret, error) {
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

// ResolvedBuildArgs returns the build arguments as a map. A bare NAME
// takes its value from the environment, as buildx does, and is left out
// when the variable is not set. SOURCE_DATE_EPOCH in the environment
// becomes a build argument unless one is given, as buildx does: BuildKit
// then stamps the image with it, so an unchanged source builds the same
// image.
func (l *Loaded) ResolvedBuildArgs() map[string]string {
	out := map[string]string{}
	if !l.Now.IsZero() {
		out["SOURCE_DATE_EPOCH"] = strconv.FormatInt(l.Now.Unix(), 10)
	}
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
