package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// buildEnv is the environment of a local run against the test
// environment's buildkitd, pushing to its registry.
func buildEnv(t *testing.T, e *testenv.Env, more map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{
		"SLIPWAY_CI":         "local",
		"BUILDKIT_HOST":      e.BuildkitHost,
		"SLIPWAY_SCAN":       "false",
		"SLIPWAY_PUSH":       "true",
		"SLIPWAY_PROGRESS":   "plain",
		"SLIPWAY_OUTPUT_DIR": filepath.Join(t.TempDir(), "out"),
		"DOCKER_HOST":        "unix:///nonexistent/docker.sock",
	}
	for k, v := range more {
		env[k] = v
	}
	return env
}

// runResult runs `slipway run --output json` and decodes the result.
func runResult(t *testing.T, dir string, env map[string]string, args ...string) (*pipeline.Result, result) {
	t.Helper()
	r := slipway(t, dir, env, append([]string{"run", "--output", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("slipway run: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	var res pipeline.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("decoding the run result: %v\n%s", err, r.stdout)
	}
	if res.Build == nil || res.Build.DigestStr() == "" {
		t.Fatalf("no build result: %s", r.stdout)
	}
	return &res, r
}

// doneStages are the stages of the steps a run did, in order: "build
// scan gate sign ...".
func doneStages(res *pipeline.Result) string {
	stages := make([]string, len(res.Done))
	for i, s := range res.Done {
		stages[i] = string(s.Stage)
	}
	return strings.Join(stages, " ")
}

// layoutIndex returns the image index (or, wrapped, the image) of digest
// in the OCI layout dir.
func layoutImages(t *testing.T, dir, digest string) map[string]v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("OCI layout %s: %v", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Image{}
	idx, err := root.ImageIndex(h)
	if err != nil {
		img, err := root.Image(h)
		if err != nil {
			t.Fatalf("%s is not in the layout: %v", digest, err)
		}
		out["single"] = img
		return out
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		key := "unknown"
		if d.Platform != nil {
			key = d.Platform.String()
		}
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			key = "attestation:" + d.Annotations["vnd.docker.reference.digest"]
		}
		out[key] = img
	}
	return out
}

// fileIn returns the content of path in img's flattened filesystem.
func fileIn(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s is not in the image", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == strings.TrimPrefix(path, "/") {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
	}
}

// imageContains reports whether s appears in any layer, the config or the
// manifest of img.
func imageContains(t *testing.T, img v1.Image, s string) bool {
	t.Helper()
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	man, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(s)) || bytes.Contains(man, []byte(s)) {
		return true
	}
	for _, data := range layerContents(t, img) {
		if bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// registryHas checks that repo@digest is in the registry.
func registryHas(t *testing.T, repo, digest string) {
	t.Helper()
	ref, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(ref); err != nil {
		t.Errorf("%s is not in the registry: %v", ref, err)
	}
}

// registryManifest returns the manifest (or index) repo@digest as the
// registry serves it.
func registryManifest(t *testing.T, repo, digest string) []byte {
	t.Helper()
	ref, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return d.Manifest
}

// layerContents returns the uncompressed content of every layer of img.
func layerContents(t *testing.T, img v1.Image) [][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// mountsAndUploads counts, in the registry's access log since mark, the
// blobs mounted into the repository to from the repository from, and the
// blob upload requests (PATCH, PUT) into to.
func mountsAndUploads(t *testing.T, e *testenv.Env, mark testenv.Mark, from, to string) (mounts, uploads int) {
	t.Helper()
	path := "/v2" + strings.TrimPrefix(to, e.Registry) + "/blobs/uploads/"
	source := "from=" + url.QueryEscape(strings.TrimPrefix(from, e.Registry+"/"))
	for _, r := range e.RegistryRequests(t, mark) {
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.Path, path) && strings.Contains(r.Path, "mount=") && strings.Contains(r.Path, source) && r.Status == http.StatusCreated:
			mounts++
		case (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.HasPrefix(r.Path, path):
			uploads++
		}
	}
	return mounts, uploads
}
