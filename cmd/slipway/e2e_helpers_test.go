package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// project writes files (path → content) into a new git repository with
// one commit, as a checkout CI would build.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "app")
	return dir
}

// git runs git in dir with fixed identities and dates, so that commits
// have the same SHA on every run.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_AUTHOR_DATE=2024-01-02T03:04:05Z",
		"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

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
	if res.Build == nil || res.Build.Digest == "" {
		t.Fatalf("no build result: %s", r.stdout)
	}
	return &res, r
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

// registryTags lists the tags of repo in the test registry.
func registryTags(t *testing.T, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		// distribution answers NAME_UNKNOWN for a repository that holds
		// manifests but no tag.
		return nil
	}
	if err != nil {
		t.Fatalf("listing the tags of %s: %v", repo, err)
	}
	slices.Sort(tags)
	return tags
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

// tagDigest returns the digest a tag points at.
func tagDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	return d.Digest.String()
}

// uniqueRepo returns a repository in the test registry no other run used.
func uniqueRepo(t *testing.T, e *testenv.Env, base string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/e2e/%s-%x", e.Registry, base, b)
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
