package build

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tonistiigi/fsutil"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Local mount names the Dockerfile frontend reads.
const (
	mountContext    = "context"
	mountDockerfile = "dockerfile"
)

// frontendAttrs returns the dockerfile.v0 attributes and the local
// directories a build needs.
func frontendAttrs(b *pipeline.BuildPlan) (map[string]string, map[string]fsutil.FS, error) {
	kv := map[string]string{"filename": filepath.Base(b.File)}
	mounts := map[string]fsutil.FS{}
	for name, dir := range map[string]string{mountContext: b.Context, mountDockerfile: filepath.Dir(b.File)} {
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("opening %s directory %s: %w", name, dir, err)
		}
		mounts[name] = fs
	}
	if b.Target != "" {
		kv["target"] = b.Target
	}
	if len(b.Platforms) > 0 {
		kv["platform"] = strings.Join(b.Platforms, ",")
	}
	for k, v := range b.Values() {
		kv["build-arg:"+k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(b.Labels)) {
		kv["label:"+k] = b.Labels[k]
	}
	for _, e := range b.BuildContexts {
		name, value, _ := strings.Cut(string(e), "=")
		if attrs.RemoteContext(value) {
			kv["context:"+name] = value
			continue
		}
		st, err := os.Stat(value)
		if err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("build context %q: %s is not a directory, an image (docker-image://) or a URL", name, value)
		}
		fs, err := fsutil.NewFS(value)
		if err != nil {
			return nil, nil, fmt.Errorf("opening build context %q (%s): %w", name, value, err)
		}
		mount := "context-" + name
		mounts[mount] = fs
		kv["context:"+name] = "local:" + mount
	}
	if b.NoCache {
		kv["no-cache"] = ""
	}
	maps.Copy(kv, b.Run.FrontendAttrs())
	if b.Pull {
		kv["image-resolve-mode"] = "pull"
	}
	if v, ok := provenanceAttr(b.Provenance); ok {
		kv["attest:provenance"] = v
	}
	if v, ok := sbomAttr(b.SBOM, b.SBOMGenerator); ok {
		kv["attest:sbom"] = v
	}
	return kv, mounts, nil
}

// provenanceAttr maps the provenance input onto attest:provenance, as
// buildx does: false disables it, true means mode=min.
func provenanceAttr(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "", "false", "0":
		return "", false
	case "true", "1":
		return "mode=min", true
	}
	return v, true
}

// sbomAttr maps the sbom and sbom-generator inputs onto attest:sbom.
func sbomAttr(v, generator string) (string, bool) {
	switch strings.ToLower(v) {
	case "", "false", "0":
		if generator == "" {
			return "", false
		}
	case "true", "1":
	default:
		return v, true // generator=<image>
	}
	if generator != "" {
		return "generator=" + generator, true
	}
	return "", true
}

// annotationAttrs turns the metadata's annotations into image exporter
// attributes (annotation-<level>.<key>=<value>). Index levels are
// dropped when the result is a lone manifest (one platform, no
// attestation), which has no index to annotate.
func annotationAttrs(annotations []meta.Annotation, index bool) map[string]string {
	out := map[string]string{}
	for _, a := range annotations {
		if !index && strings.HasPrefix(a.Level, "index") {
			continue // a single-platform image has no index to annotate
		}
		out["annotation-"+a.Level+"."+a.Key] = a.Value
	}
	return out
}
