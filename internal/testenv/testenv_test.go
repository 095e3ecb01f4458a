package testenv_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/testenv"
)

func index(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithTransport(http.DefaultTransport))
	if err != nil {
		t.Fatalf("pull index %s: %v", ref, err)
	}
	return idx
}

// images returns the index's images by architecture, checking that each
// config says the architecture its index entry says.
func images(t *testing.T, idx v1.ImageIndex) map[string]v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Image{}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue // attestations
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture {
			t.Errorf("%s: index says %s/%s, config says %s/%s", d.Digest, d.Platform.OS, d.Platform.Architecture, cf.OS, cf.Architecture)
		}
		out[d.Platform.OS+"/"+d.Platform.Architecture] = img
	}
	return out
}

func TestBaseImage(t *testing.T) {
	e := testenv.Get(t)
	if !strings.HasPrefix(e.BaseImage, e.Registry+"/") {
		t.Errorf("base image %s is not in registry %s", e.BaseImage, e.Registry)
	}
	mark := e.Mark(t)
	imgs := images(t, index(t, e.BaseImage))
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img, ok := imgs[p]
		if !ok {
			t.Fatalf("base image %s has no %s (has %v)", e.BaseImage, p, imgs)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if len(cf.Config.Cmd) == 0 || cf.Config.Cmd[0] != "sh" {
			t.Errorf("%s: Cmd = %q, want [sh]", p, cf.Config.Cmd)
		}
		if !strings.Contains(strings.Join(cf.Config.Env, " "), "PATH=") {
			t.Errorf("%s: no PATH in Env %q", p, cf.Config.Env)
		}
		files := layerFiles(t, img)
		for _, f := range []string{"bin/busybox", "bin/sh", "etc/passwd", "etc/group", "tmp/", "www/"} {
			if _, ok := files[f]; !ok {
				t.Errorf("%s: no %s in the image", p, f)
			}
		}
		if !strings.Contains(files["etc/passwd"], "nobody:x:65534:65534:") {
			t.Errorf("%s: /etc/passwd has no nobody: %q", p, files["etc/passwd"])
		}
	}
	// Each config and each layer was fetched once: the access log shows it.
	if n := e.BlobGets(t, mark); n < 4 {
		t.Errorf("registry access log shows %d blob GETs since the mark, want >= 4:\n%v", n, e.RegistryRequests(t, mark))
	}
}

// layerFiles returns the files of img (all layers; small images only) and
// their contents (regular files under 4 KiB).
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n := strings.TrimPrefix(h.Name, "./")
			files[n] = ""
			if h.Typeflag == tar.TypeReg && h.Size < 4096 {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				files[n] = string(b)
			}
		}
		rc.Close()
	}
	return files
}

// TestBuildAndPushMultiPlatform builds FROM the base image for both
// platforms on the real buildkitd, pushes to the real registry, and reads
// back what each RUN wrote: the arm64 one ran through qemu.
func TestBuildAndPushMultiPlatform(t *testing.T) {
	e := testenv.Get(t)
	dir := t.TempDir()
	df := "FROM " + e.BaseImage + "\nRUN echo hi > /x && uname -m > /arch\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := e.Registry + "/test/hello:" + strings.ToLower(t.Name())
	e.Buildctl(t, "build",
		"--frontend", "dockerfile.v0",
		"--local", "context="+dir,
		"--local", "dockerfile="+dir,
		"--opt", "platform=linux/amd64,linux/arm64",
		"--output", "type=image,name="+ref+",push=true",
	)

	imgs := images(t, index(t, ref))
	for p, want := range map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"} {
		img, ok := imgs[p]
		if !ok {
			t.Fatalf("%s has no %s", ref, p)
		}
		files := layerFiles(t, img)
		if got := files["x"]; got != "hi\n" {
			t.Errorf("%s: /x = %q, want %q", p, got, "hi\n")
		}
		if got := strings.TrimSpace(files["arch"]); got != want {
			t.Errorf("%s: RUN ran on %q, want %q", p, got, want)
		}
	}

	// The workers list both platforms.
	out := e.Buildctl(t, "debug", "workers", "-v")
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if !strings.Contains(out, p) {
			t.Errorf("buildctl debug workers lists no %s:\n%s", p, out)
		}
	}
}

// TestDockerPrivileged runs the BuildKit image --privileged in the test
// dockerd: buildkitd starts in it and lists both platforms.
func TestDockerPrivileged(t *testing.T) {
	e := testenv.Get(t)
	if e.DockerHost == "" || e.BuildkitImage == "" {
		t.Fatalf("the test dockerd is not running (hack/testenv.sh up was run with SLIPWAY_TEST_DOCKER=0?)")
	}
	docker := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", append([]string{"-H", e.DockerHost}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := docker("run", "--rm", "--privileged", e.BuildkitImage, "buildkitd", "--version"); !strings.Contains(out, "v0.34.2") {
		t.Errorf("buildkitd --version in the image: %q", out)
	}
	name := "slipway-testenv-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	docker("run", "-d", "--privileged", "--name", name, e.BuildkitImage, "buildkitd", "--oci-worker-snapshotter=native")
	t.Cleanup(func() { docker("rm", "-f", name) })
	var out string
	for i := 0; i < 60; i++ {
		c := exec.Command("docker", "-H", e.DockerHost, "exec", name, "buildctl", "debug", "workers")
		b, err := c.CombinedOutput()
		if out = string(b); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(out, "linux/arm64") {
		t.Errorf("buildkitd in the container lists no linux/arm64:\n%s", out)
	}
}

func TestGetFailsWhenDown(t *testing.T) {
	t.Setenv("SLIPWAY_TEST_STATE", t.TempDir())
	if _, err := testenv.Load(); err == nil {
		t.Fatal("Load succeeded on an empty state dir")
	}
}

func TestRepoRoot(t *testing.T) {
	if _, err := os.Stat(filepath.Join(testenv.RepoRoot(t), "go.mod")); err != nil {
		t.Error(err)
	}
}

// The daemon answers on TCP too, for the tests' containers; the runner
// image, pulled by the dockerd, has what act and gitlab-ci-local run in
// it.
func TestBuildkitTCPAndRunnerImage(t *testing.T) {
	e := testenv.Get(t)
	if !strings.HasPrefix(e.BuildkitTCP, "tcp://127.0.0.1:") {
		t.Fatalf("BuildkitTCP = %q", e.BuildkitTCP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, e.BuildctlPath, "--addr", e.BuildkitTCP, "debug", "workers").CombinedOutput(); err != nil {
		t.Errorf("buildctl over %s: %v\n%s", e.BuildkitTCP, err, out)
	}
	host, runner := e.Docker(t)
	out, err := exec.CommandContext(ctx, "docker", "-H", host, "run", "--rm", "--network", "none", runner,
		"bash", "-c", "command -v git rsync tail chown mktemp").CombinedOutput()
	if err != nil || strings.Count(string(out), "\n") != 5 {
		t.Errorf("the runner image lacks a tool: %v\n%s", err, out)
	}
}
