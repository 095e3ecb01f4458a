package attrs

import (
	"strings"
	"testing"
)

// outputs entries read as buildx's ParseExports reads them; those that
// would replace slipway's push or write to stdout are refused, naming
// what to use instead.
func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // Output.String, "load" or "error: <part>"
	}{
		{"out/files", "type=local,dest=out/files"},
		{"type=local,dest=out", "type=local,dest=out"},
		{"type=tar,dest=fs.tar", "type=tar,dest=fs.tar"},
		{"type=oci,dest=img.tar,name=example.com/app:1", "type=oci,dest=img.tar,name=example.com/app:1"},
		{"type=local,dest=out,platform-split=false", "type=local,dest=out,platform-split=false"},
		{"type=docker", "load"},
		{"type=docker,dest=img.tar", "type=docker,dest=img.tar"},
		{"type=docker,name=x", "error: load takes no attribute"},
		{"type=image,push=true,name=ghcr.io/acme/app", "error: expected images and push"},
		{"type=registry", "error: expected images and push"},
		{"type=cacheonly", "error: exports nothing"},
		{"-", "error: stdout"},
		{"type=tar,dest=-", "error: stdout"},
		{"type=local", "error: has no dest"},
		{"dest=out", "error: has no type"},
		{"type=s3,dest=x", `error: unknown exporter type "s3"`},
	} {
		o, load, err := ParseOutput(tc.in)
		got := o.String()
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case load:
			got = "load"
		}
		wantErr, isErr := strings.CutPrefix(tc.want, "error: ")
		if isErr && strings.HasPrefix(got, "error: ") && strings.Contains(got, wantErr) {
			continue
		}
		if got != tc.want {
			t.Errorf("ParseOutput(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// call reads as buildx's ParseCallFunc: check is lint, build is none.
func TestParseCall(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "<nil>",
		"build":                   "<nil>",
		"check":                   "lint  false",
		"lint":                    "lint  false",
		"outline,format=json":     "outline json false",
		"targets,ignorestatus=1":  "targets  true",
		"check,format=text":       "lint  false",
		"check,targets":           "error",
		"deploy":                  "error",
		"check,format=yaml":       "error",
		"check,ignorestatus=many": "error",
	} {
		c, err := ParseCall(in)
		got := "<nil>"
		switch {
		case err != nil:
			got = "error"
		case c != nil:
			got = c.Name + " " + c.Format + " " + map[bool]string{true: "true", false: "false"}[c.IgnoreStatus]
		}
		if got != want {
			t.Errorf("ParseCall(%q) = %q, want %q", in, got, want)
		}
	}
}
