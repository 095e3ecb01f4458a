package attrs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/internal/csvlist"
)

// Call is build-push-action's call input, buildx's --call: a frontend
// subrequest evaluated in place of the build.
type Call struct {
	// Name is the subrequest: lint (check), outline or targets.
	Name string `json:"name"`
	// Format is "" (text, as buildx prints it) or json.
	Format string `json:"format,omitempty"`
	// IgnoreStatus prints the result without its status deciding.
	IgnoreStatus bool `json:"ignore-status,omitempty"`
}

// callNames are the call input's values (check is lint's alias, as in
// buildx; build builds).
var callNames = []string{"build", "check", "outline", "targets"}

// ParseCall reads the call input as buildx's ParseCallFunc does: a name,
// then format= and ignorestatus=. build (or "") is nil: a build.
func ParseCall(s string) (*Call, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fields, err := csvlist.Split(s, csvlist.Opts{})
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	c := &Call{}
	for _, f := range fields {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		switch {
		case !ok && c.Name == "":
			c.Name = k
		case !ok:
			return nil, fmt.Errorf("%q names two calls (expected one of %s)", s, strings.Join(callNames, ", "))
		case k == "format" && (v == "json" || v == "text"):
			c.Format = v
			if v == "text" {
				c.Format = ""
			}
		case k == "ignorestatus":
			if c.IgnoreStatus, err = strconv.ParseBool(v); err != nil {
				return nil, fmt.Errorf("%q: ignorestatus %q is not true or false", s, v)
			}
		default:
			return nil, fmt.Errorf("%q: unknown field %q (expected format=json or ignorestatus=true)", s, f)
		}
	}
	switch c.Name {
	case "build":
		return nil, nil
	case "check", "lint":
		c.Name = "lint"
	case "outline", "targets":
	default:
		return nil, fmt.Errorf("%q: unknown call %q (expected one of %s)", s, c.Name, strings.Join(callNames, ", "))
	}
	return c, nil
}

// Shown is the call as build-push-action's input names it (check for
// lint).
func (c Call) Shown() string {
	if c.Name == "lint" {
		return "check"
	}
	return c.Name
}
