// Package testenv gives tests the environment that `hack/testenv.sh up`
// starts: a real BuildKit daemon, a real registry on 127.0.0.1 holding a
// multi-platform base image, and (when it was started) a dockerd.
//
// A test that needs them calls Get, which fails the test, never skips it,
// when the environment is not running: `make test` starts it first.
//
// The package imports no BuildKit client: it drives buildctl, and reads the
// registry's access log to tell which requests a test made.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultState is where hack/testenv.sh keeps the running environment when
// SLIPWAY_TEST_STATE is not set.
const DefaultState = "/tmp/slipway-testenv"

// NotRunning is the start of the failure message when the environment is
// not up.
const NotRunning = "test environment not running: run `hack/testenv.sh up` (make test does)"

// Env is the running test environment, as hack/testenv.sh wrote it in
// <state>/env.
type Env struct {
	// BuildkitHost is buildkitd's address, unix://<state>/buildkitd.sock.
	BuildkitHost string
	// Registry is the local registry's host:port (127.0.0.1:<port>), plain HTTP.
	Registry string
	// BaseImage is a linux/amd64 + linux/arm64 busybox image in Registry.
	BaseImage string
	// BuildctlPath and BuildkitdPath are the paths of the binaries (the
	// Buildctl method runs the first).
	BuildctlPath  string
	BuildkitdPath string
	// State is the state directory.
	State string
	// RegistryLog is the registry's access log (combined log format).
	RegistryLog string
	// DockerHost is the test dockerd's address (unix://...), or "" when it
	// was not started.
	DockerHost string
	// BuildkitImage is a BuildKit image in Registry that DockerHost has
	// pulled, or "".
	BuildkitImage string
	// BuildkitTCP is buildkitd's plain TCP address on 127.0.0.1
	// (tcp://127.0.0.1:<port>): the same daemon as BuildkitHost, for
	// containers on the host's network.
	BuildkitTCP string
	// RunnerImage is the CI runner emulators' job image (Debian with
	// bash, git and rsync) in Registry, by digest, pulled by DockerHost;
	// "" without a dockerd.
	RunnerImage string
	// Vars has every line of the env file.
	Vars map[string]string
}

// StateDir is ${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}.
func StateDir() string {
	// The test environment's own location, as hack/testenv.sh reads it.
	if s := os.Getenv("SLIPWAY_TEST_STATE"); s != "" { //nolint:forbidigo // shared with hack/testenv.sh
		return s
	}
	return DefaultState
}

// Load reads the environment file and checks that the registry answers and
// that buildkitd's socket is there.
func Load() (*Env, error) {
	path := filepath.Join(StateDir(), "env")
	vars, err := readEnvFile(path)
	if err != nil {
		return nil, err
	}
	e := &Env{
		BuildkitHost:  vars["BUILDKIT_HOST"],
		Registry:      vars["SLIPWAY_TEST_REGISTRY"],
		BaseImage:     vars["SLIPWAY_TEST_BASE_IMAGE"],
		BuildctlPath:  vars["SLIPWAY_TEST_BUILDCTL"],
		BuildkitdPath: vars["SLIPWAY_TEST_BUILDKITD"],
		State:         vars["SLIPWAY_TEST_STATE"],
		RegistryLog:   vars["SLIPWAY_TEST_REGISTRY_LOG"],
		DockerHost:    vars["SLIPWAY_TEST_DOCKER_HOST"],
		BuildkitImage: vars["SLIPWAY_TEST_BUILDKIT_IMAGE"],
		BuildkitTCP:   vars["SLIPWAY_TEST_BUILDKIT_TCP"],
		RunnerImage:   vars["SLIPWAY_TEST_RUNNER_IMAGE"],
		Vars:          vars,
	}
	for k, v := range map[string]string{
		"BUILDKIT_HOST":             e.BuildkitHost,
		"SLIPWAY_TEST_REGISTRY":     e.Registry,
		"SLIPWAY_TEST_BASE_IMAGE":   e.BaseImage,
		"SLIPWAY_TEST_BUILDCTL":     e.BuildctlPath,
		"SLIPWAY_TEST_REGISTRY_LOG": e.RegistryLog,
	} {
		if v == "" {
			return nil, fmt.Errorf("%s has no %s", path, k)
		}
	}
	sock, ok := strings.CutPrefix(e.BuildkitHost, "unix://")
	if !ok {
		return nil, fmt.Errorf("BUILDKIT_HOST %q is not a unix socket", e.BuildkitHost)
	}
	if fi, err := os.Stat(sock); err != nil {
		return nil, fmt.Errorf("buildkitd socket: %w", err)
	} else if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("buildkitd socket %s is not a socket", sock)
	}
	if _, err := os.Stat(e.BuildctlPath); err != nil {
		return nil, fmt.Errorf("buildctl: %w", err)
	}
	if err := ping(e.Registry); err != nil {
		return nil, err
	}
	return e, nil
}

// Get is Load for a test: it fails the test when the environment is not
// running.
func Get(t testing.TB) *Env {
	t.Helper()
	e, err := Load()
	if err != nil {
		t.Fatalf("%s: %v", NotRunning, err)
	}
	return e
}

// NoImage is the start of the failure message when the slipway image has
// not been built in the running environment.
const NoImage = "the slipway image is not in the test environment: run `make image` (make test builds it)"

// Image is the slipway image that hack/image.sh (make image) built with
// slipway into the test registry, as <state>/image.env records it.
type Image struct {
	// Ref is the image by digest: <registry>/slipway-ci/slipway@sha256:…
	Ref string
	// Platforms are the platforms it was built for (linux/amd64,...).
	Platforms []string
	// PublicKey is the path of the cosign public key it is signed with.
	PublicKey string
	// BuildContexts are the named contexts it was built with: its
	// Dockerfile's base images, assembled here
	// (name=docker-image://ref@digest).
	BuildContexts []string
}

// SlipwayImage returns the slipway image built in this environment; it
// fails the test when there is none.
func (e *Env) SlipwayImage(t testing.TB) Image {
	t.Helper()
	vars, err := readEnvFile(filepath.Join(e.State, "image.env"))
	if err != nil {
		t.Fatalf("%s: %v", NoImage, err)
	}
	img := Image{Ref: vars["SLIPWAY_TEST_IMAGE"], PublicKey: vars["SLIPWAY_TEST_IMAGE_PUBKEY"]}
	img.Platforms = splitList(vars["SLIPWAY_TEST_IMAGE_PLATFORMS"])
	// Comma-separated in the file: docker-image:// references hold none.
	img.BuildContexts = splitList(vars["SLIPWAY_TEST_IMAGE_BUILD_CONTEXTS"])
	if !strings.HasPrefix(img.Ref, e.Registry+"/") || !strings.Contains(img.Ref, "@sha256:") || len(img.Platforms) == 0 {
		t.Fatalf("%s: image.env names %q for %q", NoImage, img.Ref, img.Platforms)
	}
	if _, err := os.Stat(img.PublicKey); err != nil {
		t.Fatalf("%s: its public key: %v", NoImage, err)
	}
	return img
}

// Docker returns the test dockerd's host and runner image; it fails the
// test when the environment runs no dockerd.
func (e *Env) Docker(t testing.TB) (host, runnerImage string) {
	t.Helper()
	if e.DockerHost == "" || e.RunnerImage == "" || e.BuildkitImage == "" {
		t.Fatal("the test environment runs no dockerd, or lacks its images (SLIPWAY_TEST_DOCKER=0?): this test needs it")
	}
	return e.DockerHost, e.RunnerImage
}

// splitList splits a comma-separated list whose entries hold no spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		vars[k] = v
	}
	return vars, nil
}

func ping(registry string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + registry + "/v2/")
	if err != nil {
		return fmt.Errorf("registry %s: %w", registry, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("registry %s: GET /v2/ answered %s", registry, resp.Status)
	}
	return nil
}

// BuildctlCmd is buildctl --addr BuildkitHost args..., to run as the caller
// likes.
func (e *Env) BuildctlCmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, e.BuildctlPath, append([]string{"--addr", e.BuildkitHost}, args...)...)
}

// Buildctl runs buildctl --addr BuildkitHost args... and returns its
// standard output; it fails the test, with all the output, when buildctl
// fails or runs for more than 10 minutes.
func (e *Env) Buildctl(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := e.BuildctlCmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("buildctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// Mark is a point in the registry's access log: requests after it are the
// ones RegistryRequests returns.
type Mark int64

// Request is one line of the registry's access log.
type Request struct {
	Method string
	Path   string
	Status int
	Line   string
}

// IsBlobGet tells whether r fetched a blob (layer or config), successfully.
func (r Request) IsBlobGet() bool {
	return r.Method == http.MethodGet && strings.Contains(r.Path, "/blobs/") && r.Status/100 == 2
}

// Mark returns the current end of the registry's access log.
func (e *Env) Mark(t testing.TB) Mark {
	t.Helper()
	e.settle()
	fi, err := os.Stat(e.RegistryLog)
	if err != nil {
		t.Fatalf("registry access log: %v", err)
	}
	return Mark(fi.Size())
}

// settle waits, at most two seconds, until the access log stops growing:
// the registry writes a line only after it answered.
func (e *Env) settle() {
	var last int64 = -1
	for i := 0; i < 20; i++ {
		fi, err := os.Stat(e.RegistryLog)
		if err != nil {
			return
		}
		if fi.Size() == last {
			return
		}
		last = fi.Size()
		time.Sleep(100 * time.Millisecond)
	}
}

// "GET /v2/x/blobs/sha256:... HTTP/1.1" 200
var accessLine = regexp.MustCompile(`"([A-Z]+) (\S+) [^"]*" (\d{3}) `)

// RegistryRequests returns the requests the registry logged since mark.
func (e *Env) RegistryRequests(t testing.TB, since Mark) []Request {
	t.Helper()
	e.settle()
	f, err := os.Open(e.RegistryLog)
	if err != nil {
		t.Fatalf("registry access log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(int64(since), io.SeekStart); err != nil {
		t.Fatalf("registry access log: %v", err)
	}
	var reqs []Request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m := accessLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		status, _ := strconv.Atoi(m[3])
		reqs = append(reqs, Request{Method: m[1], Path: m[2], Status: status, Line: sc.Text()})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("registry access log: %v", err)
	}
	return reqs
}

// BlobGets counts the blobs fetched from the registry since mark (for
// assertions such as "the warm build pulled no layer").
func (e *Env) BlobGets(t testing.TB, since Mark) int {
	t.Helper()
	n := 0
	for _, r := range e.RegistryRequests(t, since) {
		if r.IsBlobGet() {
			n++
		}
	}
	return n
}

// LockDockerBuilder gives the test, until it ends, the BuildKit container
// that slipway starts through the dockerd (one per Engine, by name, and
// removed by the tests that start it): tests of several packages run at
// once, and take turns here. It waits for the lock as long as it takes.
func (e *Env) LockDockerBuilder(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(e.State, "docker-builder.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("locking the Docker-started builder: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
