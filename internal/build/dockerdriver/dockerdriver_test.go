package dockerdriver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/api/types/mount"
	docker "github.com/moby/moby/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/slipway-ci/slipway/internal/build/dockerdriver"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// setup returns the environment, Options for a container of the test's
// own (removed with its volume when the test ends) and an Engine client.
func setup(t *testing.T) (*testenv.Env, dockerdriver.Options, *docker.Client) {
	t.Helper()
	env := testenv.Get(t)
	if env.DockerHost == "" || env.BuildkitImage == "" {
		t.Fatalf("%s: the dockerd was not started (SLIPWAY_TEST_DOCKER=0?): no SLIPWAY_TEST_DOCKER_HOST or SLIPWAY_TEST_BUILDKIT_IMAGE", testenv.NotRunning)
	}
	dc, err := docker.New(docker.WithHost(env.DockerHost))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dc.Close() })
	ping, err := dc.Ping(t.Context(), docker.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		t.Fatalf("%s: dockerd at %s: %v", testenv.NotRunning, env.DockerHost, err)
	}
	if dc.ClientVersion() != ping.APIVersion {
		t.Errorf("client API version %s, the Engine's %s: no negotiation?", dc.ClientVersion(), ping.APIVersion)
	}
	o := dockerdriver.Options{
		Host:  env.DockerHost,
		Image: env.BuildkitImage,
		Name:  fmt.Sprintf("slipway-test-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano()%1_000_000_000),
		Log:   testWriter{t},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dockerdriver.Remove(ctx, o, true); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return env, o, dc
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func connect(ctx context.Context, t *testing.T, o dockerdriver.Options) *bkclient.Client {
	t.Helper()
	start := time.Now()
	c, err := dockerdriver.Connect(ctx, o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Logf("Connect took %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func inspect(ctx context.Context, t *testing.T, dc *docker.Client, nameOrID string) docker.ContainerInspectResult {
	t.Helper()
	res, err := dc.ContainerInspect(ctx, nameOrID, docker.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspecting container %s: %v", nameOrID, err)
	}
	return res
}

func TestConnectReuseRemove(t *testing.T) {
	_, o, dc := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	c := connect(ctx, t, o)

	ctr := inspect(ctx, t, dc, o.Name).Container
	if ctr.State == nil || !ctr.State.Running {
		t.Fatalf("container %s does not run: %+v", o.Name, ctr.State)
	}
	if !ctr.HostConfig.Privileged {
		t.Error("container is not privileged")
	}
	if got := string(ctr.HostConfig.NetworkMode); got != "host" {
		t.Errorf("network mode = %q, want host", got)
	}
	if got := ctr.HostConfig.RestartPolicy.Name; got != "no" && got != "" {
		t.Errorf("restart policy = %q, want none", got)
	}
	if got := ctr.Config.Labels[dockerdriver.LabelBuilder]; got != "true" {
		t.Errorf("label %s = %q, want true", dockerdriver.LabelBuilder, got)
	}
	if got := ctr.Config.Labels[dockerdriver.LabelImage]; got != o.Image {
		t.Errorf("label %s = %q, want %q", dockerdriver.LabelImage, got, o.Image)
	}
	volume := o.Name + "-state"
	found := false
	for _, m := range ctr.Mounts {
		if m.Destination == "/var/lib/buildkit" {
			found = true
			if m.Type != mount.TypeVolume || m.Name != volume {
				t.Errorf("/var/lib/buildkit is %s %q, want volume %q", m.Type, m.Name, volume)
			}
		}
	}
	if !found {
		t.Errorf("no mount at /var/lib/buildkit: %+v", ctr.Mounts)
	}
	if _, err := dc.VolumeInspect(ctx, volume, docker.VolumeInspectOptions{}); err != nil {
		t.Errorf("volume %s: %v", volume, err)
	}

	workers, err := c.ListWorkers(ctx)
	if err != nil {
		t.Fatalf("ListWorkers: %v", err)
	}
	oci := false
	for _, w := range workers {
		t.Logf("worker %s %v %v", w.ID, w.Labels["org.mobyproject.buildkit.worker.executor"], w.Platforms)
		if w.Labels["org.mobyproject.buildkit.worker.executor"] != "oci" {
			continue
		}
		if slices.ContainsFunc(w.Platforms, func(p ocispecs.Platform) bool { return p.OS == "linux" && p.Architecture == "amd64" }) {
			oci = true
		}
	}
	if !oci {
		t.Errorf("no OCI worker with linux/amd64 among %d workers", len(workers))
	}

	// A second Connect reuses the running container.
	c2 := connect(ctx, t, o)
	if _, err := c2.ListWorkers(ctx); err != nil {
		t.Fatalf("ListWorkers through the second client: %v", err)
	}
	if id := inspect(ctx, t, dc, o.Name).Container.ID; id != ctr.ID {
		t.Errorf("second Connect: container %s, want the first one %s", id, ctr.ID)
	}

	// A stopped container is started again, not made anew.
	stop := 5
	if _, err := dc.ContainerStop(ctx, ctr.ID, docker.ContainerStopOptions{Timeout: &stop}); err != nil {
		t.Fatal(err)
	}
	c3 := connect(ctx, t, o)
	if _, err := c3.ListWorkers(ctx); err != nil {
		t.Fatalf("ListWorkers after restart: %v", err)
	}
	if id := inspect(ctx, t, dc, o.Name).Container.ID; id != ctr.ID {
		t.Errorf("Connect to a stopped container: container %s, want the first one %s", id, ctr.ID)
	}

	// Another image (the same one, by ID) and a configuration: recreated,
	// with --config.
	img, err := dc.ImageInspect(ctx, o.Image)
	if err != nil {
		t.Fatal(err)
	}
	o2 := o
	o2.Image = img.ID
	o2.Config = "debug = true\n"
	c4 := connect(ctx, t, o2)
	if _, err := c4.ListWorkers(ctx); err != nil {
		t.Fatalf("ListWorkers after recreation: %v", err)
	}
	ctr2 := inspect(ctx, t, dc, o.Name).Container
	if ctr2.ID == ctr.ID {
		t.Errorf("Connect with another image reused container %s", ctr.ID)
	}
	// network.host permitted, as buildx's docker-container driver does.
	if got := strings.Join(ctr2.Args, " "); got != "--allow-insecure-entitlement=network.host --config /etc/buildkit/buildkitd.toml" {
		t.Errorf("buildkitd args = %q", got)
	}
	cp, err := dc.CopyFromContainer(ctx, ctr2.ID, docker.CopyFromContainerOptions{SourcePath: "/etc/buildkit/buildkitd.toml"})
	if err != nil {
		t.Fatalf("reading the configuration back: %v", err)
	}
	b, _ := io.ReadAll(cp.Content)
	_ = cp.Content.Close()
	if !bytes.Contains(b, []byte("debug = true")) {
		t.Errorf("configuration in the container: %q", b)
	}

	// Remove with the volume.
	if err := dockerdriver.Remove(ctx, o, true); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := dc.ContainerInspect(ctx, o.Name, docker.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container after Remove: err = %v, want not found", err)
	}
	if _, err := dc.VolumeInspect(ctx, volume, docker.VolumeInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("volume after Remove: err = %v, want not found", err)
	}
	// Removing what is gone is no error.
	if err := dockerdriver.Remove(ctx, o, true); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestConnectRefusesForeignContainer(t *testing.T) {
	env, o, dc := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := dc.ContainerCreate(ctx, docker.ContainerCreateOptions{Name: o.Name, Image: env.BuildkitImage}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = dc.ContainerRemove(context.WithoutCancel(ctx), o.Name, docker.ContainerRemoveOptions{Force: true})
	}()
	if _, err := dockerdriver.Connect(ctx, o); err == nil || !strings.Contains(err.Error(), "not a slipway BuildKit container") {
		t.Errorf("Connect over a foreign container: err = %v", err)
	}
	if err := dockerdriver.Remove(ctx, o, false); err == nil {
		t.Error("Remove of a foreign container: no error")
	}
}

// TestConnectPulls gives Connect an image the Engine lacks: a copy of the
// BuildKit image under a name of its own in the test registry.
func TestConnectPulls(t *testing.T) {
	env, o, dc := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	src, err := name.ParseReference(env.BuildkitImage, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.ParseReference(fmt.Sprintf("%s/dockerdriver/buildkit:pull-%d", env.Registry, time.Now().UnixNano()), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(src, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, mustImage(t, desc), remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	o.Image = dst.String()
	if _, err := dc.ImageInspect(ctx, o.Image); !cerrdefs.IsNotFound(err) {
		t.Fatalf("the Engine already has %s (err = %v)", o.Image, err)
	}
	t.Cleanup(func() {
		_, _ = dc.ImageRemove(context.Background(), o.Image, docker.ImageRemoveOptions{})
	})
	c := connect(ctx, t, o)
	if _, err := c.ListWorkers(ctx); err != nil {
		t.Fatalf("ListWorkers: %v", err)
	}
	if _, err := dc.ImageInspect(ctx, o.Image); err != nil {
		t.Errorf("the Engine has not pulled %s: %v", o.Image, err)
	}
}

func mustImage(t *testing.T, desc *remote.Descriptor) v1.Image {
	t.Helper()
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestConnectReportsLogs: a buildkitd that cannot start makes Connect fail
// with the container's log.
func TestConnectReportsLogs(t *testing.T) {
	_, o, _ := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	o.Config = "this is [not toml\n"
	start := time.Now()
	_, err := dockerdriver.Connect(ctx, o)
	if err == nil {
		t.Fatal("Connect with a broken configuration: no error")
	}
	t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "log lines") {
		t.Errorf("the error does not say that the container exited, with its log: %v", err)
	}
}

func TestBuildThroughDocker(t *testing.T) {
	env, o, _ := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	port := env.Registry[strings.LastIndex(env.Registry, ":")+1:]
	// Inside the container (host network) BuildKit speaks plain HTTP to
	// localhost:*, not to 127.0.0.1:*; the configuration says it anyway,
	// which also proves that buildkitd read it.
	o.Config = fmt.Sprintf("[registry.%q]\n  http = true\n  insecure = true\n", "localhost:"+port)
	c := connect(ctx, t, o)

	base := strings.Replace(env.BaseImage, "127.0.0.1:", "localhost:", 1)
	dir := t.TempDir()
	df := fmt.Sprintf("FROM %s\nRUN echo built > /x\n", base)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("dockerdriver/test:%d", time.Now().UnixNano())
	status := make(chan *bkclient.SolveStatus)
	var progress bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() {
		for s := range status {
			for _, v := range s.Vertexes {
				if v.Completed != nil {
					fmt.Fprintf(&progress, "done %s %s\n", v.Name, v.Error)
				}
			}
			for _, l := range s.Logs {
				progress.Write(l.Data)
			}
		}
	})
	start := time.Now()
	_, err = c.Solve(ctx, nil, bkclient.SolveOpt{
		Frontend:    "dockerfile.v0",
		LocalMounts: map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports: []bkclient.ExportEntry{{
			Type:  bkclient.ExporterImage,
			Attrs: map[string]string{"name": "localhost:" + port + "/" + tag, "push": "true"},
		}},
	}, status)
	wg.Wait()
	if err != nil {
		t.Fatalf("Solve: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("build and push took %s", time.Since(start).Round(time.Millisecond))

	ref, err := name.ParseReference(env.Registry+"/"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("the pushed image is not in the registry: %v", err)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %s: %s, %d layers, %s/%s", ref, desc.Digest, len(layers), cfg.OS, cfg.Architecture)
	if len(layers) < 2 {
		t.Errorf("the image has %d layers, want the base's and the RUN's", len(layers))
	}
	last := cfg.History[len(cfg.History)-1].CreatedBy
	if !strings.Contains(last, "echo built > /x") {
		t.Errorf("last history entry %q is not the RUN step", last)
	}
}

// Available answers for a running Engine, a missing socket and a socket
// that accepts but never answers. The last returns false once its ping
// times out (pingTimeout): that it returns at all is the bound, which
// `go test -timeout` would otherwise catch; no wall clock is read here.
func TestAvailable(t *testing.T) {
	env := testenv.Get(t)
	if env.DockerHost == "" {
		t.Fatalf("%s: no SLIPWAY_TEST_DOCKER_HOST", testenv.NotRunning)
	}
	ctx := t.Context()
	if !dockerdriver.Available(ctx, env.DockerHost) {
		t.Errorf("Available(%s) = false", env.DockerHost)
	}
	missing := "unix://" + filepath.Join(t.TempDir(), "no-such.sock")
	if dockerdriver.Available(ctx, missing) {
		t.Errorf("Available(%s) = true", missing)
	}

	// Something that accepts connections but never answers.
	sock := filepath.Join(t.TempDir(), "mute.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	if dockerdriver.Available(ctx, "unix://"+sock) {
		t.Error("Available of a mute socket = true")
	}
	// The false came from a ping that reached the socket and got no
	// answer, not from a failure to connect.
	select {
	case <-accepted:
	default:
		t.Error("Available never connected to the mute socket")
	}
}
