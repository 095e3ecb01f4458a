package attrs

import (
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/internal/csvlist"
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

// String is the secret for display: its id and source, never its value.
func (s Secret) String() string {
	switch {
	case s.Src != "":
		return "id=" + s.ID + ",src=" + s.Src
	case s.Env != "":
		return "id=" + s.ID + ",env=" + s.Env
	default:
		return "id=" + s.ID + ",value=" + Redacted
	}
}

// MarshalText encodes the secret as String shows it: never its value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
