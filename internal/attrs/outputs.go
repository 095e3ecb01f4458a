package attrs

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Output is one outputs entry slipway exports beside its own OCI layout:
// BuildKit's local exporter (the files of the result, in a directory) or
// a tar, oci or docker exporter writing one file.
type Output struct {
	Type string `json:"type"`
	// Dest is the directory (local) or the file (tar, oci, docker).
	Dest string `json:"dest"`
	// Attrs are the exporter's other attributes, as given
	// (platform-split=false, name=...).
	Attrs map[string]string `json:"attrs,omitempty"`
}

// String is the entry as buildx writes it, for the plan.
func (o Output) String() string {
	parts := []string{"type=" + o.Type, "dest=" + o.Dest}
	for _, k := range slices.Sorted(maps.Keys(o.Attrs)) {
		parts = append(parts, k+"="+o.Attrs[k])
	}
	return strings.Join(parts, ",")
}

// Exporter types of an outputs entry.
const (
	OutputLocal  = "local"
	OutputTar    = "tar"
	OutputOCI    = "oci"
	OutputDocker = "docker"
)

// ParseOutput reads a build-push-action outputs entry as buildx's
// ParseExports does (a bare path is type=local,dest=<path>). It tells
// load when the entry asks to load the image into the Docker Engine
// (type=docker without dest, as buildx's --load). What would replace
// slipway's own export and push (type=image, type=registry,
// type=cacheonly) is an error saying what to use instead, as is a dest
// of "-": stdout is slipway's result.
func ParseOutput(e string) (out Output, load bool, err error) {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "=") {
		if e == "-" {
			return Output{}, false, fmt.Errorf("%q writes a tar to stdout, which carries slipway's result (expected type=tar,dest=<file>)", e)
		}
		return Output{Type: OutputLocal, Dest: e}, false, nil
	}
	kv, err := Parse(e)
	if err != nil {
		return Output{}, false, fmt.Errorf("%q: %w", e, err)
	}
	out = Output{Type: kv["type"], Dest: kv["dest"]}
	delete(kv, "type")
	delete(kv, "dest")
	if len(kv) > 0 {
		out.Attrs = kv
	}
	switch out.Type {
	case OutputLocal, OutputTar, OutputOCI:
	case OutputDocker:
		if out.Dest == "" {
			if len(kv) > 0 {
				return Output{}, false, fmt.Errorf("%q: slipway loads the image under its tags; load takes no attribute (expected type=docker alone, or load: true)", e)
			}
			return Output{}, true, nil
		}
	case "image", "registry":
		return Output{}, false, fmt.Errorf("%q would push the image in place of slipway, which pushes it by digest, scans and signs it before any tag (expected images and push for where it goes)", e)
	case "cacheonly":
		return Output{}, false, fmt.Errorf("%q exports nothing, but slipway always keeps its OCI layout to scan and sign (expected no outputs entry)", e)
	case "":
		return Output{}, false, fmt.Errorf("%q has no type (expected type=local,dest=<dir> or type=tar,dest=<file>)", e)
	default:
		return Output{}, false, fmt.Errorf("%q: unknown exporter type %q (expected local, tar, oci or docker)", e, out.Type)
	}
	switch out.Dest {
	case "":
		return Output{}, false, fmt.Errorf("%q has no dest (expected dest=<directory> for local, dest=<file> for tar, oci and docker)", e)
	case "-":
		return Output{}, false, fmt.Errorf("%q writes to stdout, which carries slipway's result (expected dest=<file>)", e)
	}
	return out, false, nil
}
