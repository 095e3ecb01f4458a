// Package dockerdriver runs BuildKit in a container of a Docker Engine and
// connects a BuildKit client to it through the Engine API, as buildx's
// docker-container driver does.
//
// It serves where slipway itself is not privileged (a GitHub `uses:`
// container action) but can reach an Engine (GitHub mounts
// /var/run/docker.sock into every container action): the Engine starts a
// privileged buildkitd container, kept across runs with its state in a named
// volume, and every gRPC connection of the BuildKit client is an exec of
// `buildctl dial-stdio` in that container, attached through the Engine API.
// No docker CLI is used.
package dockerdriver

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	docker "github.com/moby/moby/client"
)

// Defaults of Options.
const (
	DefaultHost    = "unix:///var/run/docker.sock"
	DefaultName    = "slipway-buildkitd"
	DefaultNetwork = "host"
)

// Labels put on the container and the volume.
const (
	// LabelBuilder marks what this package made ("true").
	LabelBuilder = "slipway.builder"
	// LabelImage is the BuildKit image the container runs.
	LabelImage = "slipway.builder.image"
	// LabelConfig is the sha256 of the buildkitd.toml the container got
	// ("" for none), so that a changed configuration recreates it.
	LabelConfig = "slipway.builder.config"
)

const (
	stateDir   = "/var/lib/buildkit"
	configPath = "/etc/buildkit/buildkitd.toml"

	pingTimeout  = 2 * time.Second
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 // seconds
)

// Options says which Engine to use and which container to run there.
type Options struct {
	// Host is the Docker Engine address in DOCKER_HOST form
	// (unix:///var/run/docker.sock, tcp://host:2375); "" is DefaultHost.
	Host string
	// Image is the BuildKit image, e.g. moby/buildkit:v0.34.2. Its buildkitd
	// must be on the PATH, with buildctl (the container runs
	// `buildkitd [--config ...]` whatever the image's entrypoint).
	Image string
	// Name is the container's name; "" is DefaultName.
	Name string
	// Volume is the named volume mounted at /var/lib/buildkit, so that
	// BuildKit's state and cache outlive the container; "" is Name+"-state".
	Volume string
	// Network is the container's network mode; "" is "host", so that
	// registries on the host's loopback are reachable.
	Network string
	// Config is the content of a buildkitd.toml, or "" for none. It is
	// written into the container at /etc/buildkit/buildkitd.toml before
	// buildkitd starts.
	Config string
	// Log receives progress messages; nil discards them.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Volume == "" {
		o.Volume = o.Name + "-state"
	}
	if o.Network == "" {
		o.Network = DefaultNetwork
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

func (o Options) logf(format string, args ...any) {
	fmt.Fprintf(o.Log, format+"\n", args...)
}

// configHash is LabelConfig's value for o.Config.
func (o Options) configHash() string {
	if o.Config == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(o.Config))
	return hex.EncodeToString(sum[:])
}

func newDockerClient(host string) (*docker.Client, error) {
	c, err := docker.New(docker.WithHost(host)) // negotiates the API version on first use (default)
	if err != nil {
		return nil, fmt.Errorf("docker engine client for %s: %w", host, err)
	}
	return c, nil
}

// Available reports whether a Docker Engine answers at host ("" is
// DefaultHost), waiting at most two seconds.
func Available(ctx context.Context, host string) bool {
	if host == "" {
		host = DefaultHost
	}
	c, err := newDockerClient(host)
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err = c.Ping(ctx, docker.PingOptions{NegotiateAPIVersion: true})
	return err == nil
}

// Connect makes sure the BuildKit container runs and returns a BuildKit
// client connected to it.
//
// It creates and starts the container when it is absent (pulling the image
// when the Engine lacks it), starts it when it is stopped, and reuses it
// when it runs. A container made for another image, configuration, network
// or volume is removed and made anew (the state volume stays). A container
// of that name that this package did not make is an error.
//
// It then waits, at most 30 s, until buildkitd answers. Every connection of
// the returned client runs `buildctl dial-stdio` in the container through
// the Engine API.
func Connect(ctx context.Context, o Options) (*bkclient.Client, error) {
	o = o.withDefaults()
	if o.Image == "" {
		return nil, errors.New("dockerdriver: no BuildKit image given")
	}
	dc, err := newDockerClient(o.Host)
	if err != nil {
		return nil, err
	}
	// The client lives as long as the BuildKit client, which dials through
	// it; Close only drops idle connections, so it is not closed.
	if _, err := dc.Ping(ctx, docker.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", o.Host, err)
	}
	// Runs on one machine (a self-hosted runner's parallel jobs) take
	// turns making the container and waiting for it; runs on several
	// machines sharing one Engine meet at its name (a Conflict: look
	// again).
	unlock, err := lockMachine(ctx, o)
	if err != nil {
		return nil, err
	}
	id, err := ensureContainer(ctx, dc, o)
	if err == nil {
		err = waitReady(ctx, dc, o, id)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	c, err := newBuildkitClient(ctx, dc, id)
	if err != nil {
		return nil, fmt.Errorf("BuildKit client for container %s: %w", o.Name, err)
	}
	return c, nil
}

// lockMachine takes this machine's lock on o's container (a file lock in
// the temporary directory, by Engine and name), waiting for another
// slipway that holds it; ctx bounds the wait.
func lockMachine(ctx context.Context, o Options) (func(), error) {
	sum := sha256.Sum256([]byte(o.Host + "\x00" + o.Name))
	path := filepath.Join(os.TempDir(), "slipway-buildkit-"+hex.EncodeToString(sum[:6])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("locking BuildKit container %s: %w", o.Name, err)
	}
	locked := make(chan error, 1)
	go func() { locked <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-locked:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking BuildKit container %s: %w", o.Name, err)
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		// Closing the file ends the pending flock.
		f.Close()
		return nil, ctx.Err()
	}
}

// conflictRetries bounds how often ensureContainer looks again after a
// Conflict; it waits conflictBackoff, doubling, between looks.
const (
	conflictRetries = 8
	conflictBackoff = 100 * time.Millisecond
)

// ensureContainer returns the ID of a running container that matches o.
func ensureContainer(ctx context.Context, dc *docker.Client, o Options) (string, error) {
	wait := conflictBackoff
	for attempt := 0; ; attempt++ {
		id, err := ensureContainerOnce(ctx, dc, o)
		// Another slipway made (or is removing) the same container
		// meanwhile: look again. While the Engine creates a container
		// its name is taken but inspecting it finds nothing, so a look
		// right away can meet the same Conflict: wait a little longer
		// each time.
		if err != nil && attempt < conflictRetries && cerrdefs.IsConflict(err) {
			o.logf("BuildKit container %s changed meanwhile (%v); looking again", o.Name, err)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return "", ctx.Err()
			}
			wait = min(2*wait, 2*time.Second)
			continue
		}
		return id, err
	}
}

func ensureContainerOnce(ctx context.Context, dc *docker.Client, o Options) (string, error) {
	res, err := dc.ContainerInspect(ctx, o.Name, docker.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return createAndStart(ctx, dc, o)
	case err != nil:
		return "", fmt.Errorf("inspecting BuildKit container %s: %w", o.Name, err)
	}
	ctr := res.Container
	var labels map[string]string
	if ctr.Config != nil {
		labels = ctr.Config.Labels
	}
	if labels[LabelBuilder] != "true" {
		return "", fmt.Errorf("a container named %s exists and is not a slipway BuildKit container (no label %s=true): remove it or choose another name", o.Name, LabelBuilder)
	}
	if why := mismatch(ctr, o); why != "" {
		o.logf("BuildKit container %s %s; recreating it", o.Name, why)
		if err := removeContainer(ctx, dc, ctr.ID); err != nil {
			return "", fmt.Errorf("removing BuildKit container %s: %w", o.Name, err)
		}
		return createAndStart(ctx, dc, o)
	}
	if ctr.State != nil && ctr.State.Running && !ctr.State.Paused && !ctr.State.Restarting {
		o.logf("reusing BuildKit container %s (%s)", o.Name, shortID(ctr.ID))
		return ctr.ID, nil
	}
	if ctr.State != nil && ctr.State.Paused {
		return "", fmt.Errorf("BuildKit container %s is paused: unpause or remove it", o.Name)
	}
	o.logf("starting stopped BuildKit container %s (%s)", o.Name, shortID(ctr.ID))
	if _, err := dc.ContainerStart(ctx, ctr.ID, docker.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("starting BuildKit container %s from %s: %w", o.Name, o.Image, err)
	}
	return ctr.ID, nil
}

// entitlementArgs are what the container's buildkitd permits a build to
// ask for: network.host, as buildx's docker-container driver does (a
// build still gets it only when it asks, with allow or network: host).
var entitlementArgs = []string{"--allow-insecure-entitlement=network.host"}

// mismatch says how ctr differs from what o asks for, or "".
func mismatch(ctr container.InspectResponse, o Options) string {
	labels := ctr.Config.Labels
	if img := labels[LabelImage]; img != o.Image {
		return fmt.Sprintf("runs image %s, not %s", img, o.Image)
	}
	if labels[LabelConfig] != o.configHash() {
		return "has another buildkitd configuration"
	}
	if !slices.Contains(ctr.Config.Cmd, entitlementArgs[0]) {
		return "does not permit network.host"
	}
	if ctr.HostConfig != nil && string(ctr.HostConfig.NetworkMode) != o.Network {
		return fmt.Sprintf("has network %s, not %s", ctr.HostConfig.NetworkMode, o.Network)
	}
	for _, m := range ctr.Mounts {
		if m.Destination == stateDir {
			if m.Type != mount.TypeVolume || m.Name != o.Volume {
				return fmt.Sprintf("keeps its state in %s %s, not volume %s", m.Type, m.Name, o.Volume)
			}
			return ""
		}
	}
	return fmt.Sprintf("has no volume at %s", stateDir)
}

func createAndStart(ctx context.Context, dc *docker.Client, o Options) (string, error) {
	if err := ensureImage(ctx, dc, o); err != nil {
		return "", err
	}
	if err := ensureVolume(ctx, dc, o); err != nil {
		return "", err
	}
	o.logf("starting BuildKit container %s from %s", o.Name, o.Image)
	args := slices.Clone(entitlementArgs)
	if o.Config != "" {
		args = append(args, "--config", configPath)
	}
	labels := map[string]string{
		LabelBuilder: "true",
		LabelImage:   o.Image,
		LabelConfig:  o.configHash(),
	}
	created, err := dc.ContainerCreate(ctx, docker.ContainerCreateOptions{
		Name: o.Name,
		Config: &container.Config{
			Image: o.Image,
			// The official image's entrypoint is buildkitd; others (the
			// test environment's) only have it as the command: naming it
			// works with both.
			Entrypoint: []string{"buildkitd"},
			Cmd:        args,
			Labels:     labels,
		},
		HostConfig: &container.HostConfig{
			Privileged:    true,
			NetworkMode:   container.NetworkMode(o.Network),
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			Mounts: []mount.Mount{{
				Type:   mount.TypeVolume,
				Source: o.Volume,
				Target: stateDir,
			}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("starting BuildKit container %s from %s: creating it: %w", o.Name, o.Image, err)
	}
	id := created.ID
	if o.Config != "" {
		if err := copyConfig(ctx, dc, id, o.Config); err != nil {
			_ = removeContainer(context.WithoutCancel(ctx), dc, id)
			return "", fmt.Errorf("starting BuildKit container %s from %s: writing %s: %w", o.Name, o.Image, configPath, err)
		}
	}
	if _, err := dc.ContainerStart(ctx, id, docker.ContainerStartOptions{}); err != nil {
		_ = removeContainer(context.WithoutCancel(ctx), dc, id)
		return "", fmt.Errorf("starting BuildKit container %s from %s: %w", o.Name, o.Image, err)
	}
	return id, nil
}

// ensureImage pulls o.Image when the Engine lacks it.
func ensureImage(ctx context.Context, dc *docker.Client, o Options) error {
	_, err := dc.ImageInspect(ctx, o.Image)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting BuildKit image %s: %w", o.Image, err)
	}
	o.logf("pulling BuildKit image %s", o.Image)
	resp, err := dc.ImagePull(ctx, o.Image, docker.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pulling BuildKit image %s: %w", o.Image, err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return fmt.Errorf("pulling BuildKit image %s: %w", o.Image, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("pulling BuildKit image %s: %s", o.Image, msg.Error.Message)
		}
		// Per-layer progress lines are noise; the status lines say enough.
		if msg.ID == "" && msg.Status != "" {
			o.logf("  %s", msg.Status)
		}
	}
	return nil
}

func ensureVolume(ctx context.Context, dc *docker.Client, o Options) error {
	_, err := dc.VolumeInspect(ctx, o.Volume, docker.VolumeInspectOptions{})
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting BuildKit state volume %s: %w", o.Volume, err)
	}
	_, err = dc.VolumeCreate(ctx, docker.VolumeCreateOptions{
		Name:   o.Volume,
		Labels: map[string]string{LabelBuilder: "true"},
	})
	if err != nil {
		return fmt.Errorf("creating BuildKit state volume %s: %w", o.Volume, err)
	}
	return nil
}

// copyConfig writes content at configPath in the (created, not started)
// container.
func copyConfig(ctx context.Context, dc *docker.Client, id, content string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, dir := range []string{"etc/", "etc/buildkit/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
	}
	name := strings.TrimPrefix(configPath, "/")
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: now}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := dc.CopyToContainer(ctx, id, docker.CopyToContainerOptions{
		DestinationPath: "/",
		Content:         &buf,
	})
	return err
}

// waitReady polls ListWorkers until buildkitd answers, at most readyTimeout.
func waitReady(ctx context.Context, dc *docker.Client, o Options, id string) error {
	start := time.Now()
	deadline := start.Add(readyTimeout)
	delay := 100 * time.Millisecond
	var last error
	for {
		last = ping(ctx, dc, id)
		if last == nil {
			o.logf("BuildKit container %s answers (%s)", o.Name, time.Since(start).Round(10*time.Millisecond))
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for buildkitd in container %s: %w", o.Name, ctx.Err())
		}
		// A container that stopped will not answer: say so now.
		res, err := dc.ContainerInspect(ctx, id, docker.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("waiting for buildkitd in container %s: inspecting it: %w", o.Name, err)
		}
		if st := res.Container.State; st != nil && !st.Running {
			// Its log says why; what the last dial met is of no help.
			return fmt.Errorf("BuildKit container %s exited (code %d) while starting%s",
				o.Name, st.ExitCode, containerLogs(ctx, dc, id))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("buildkitd in container %s did not answer within %s: %w%s",
				o.Name, readyTimeout, last, containerLogs(ctx, dc, id))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for buildkitd in container %s: %w", o.Name, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// ping asks buildkitd for its workers through a client of its own, so that
// gRPC's reconnection backoff does not delay the next attempt.
func ping(ctx context.Context, dc *docker.Client, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := newBuildkitClient(ctx, dc, id)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ListWorkers(ctx)
	return err
}

// containerLogs is the end of the container's log, for an error message.
func containerLogs(ctx context.Context, dc *docker.Client, id string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rc, err := dc.ContainerLogs(ctx, id, docker.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"})
	if err != nil {
		return fmt.Sprintf("\n(its logs: %v)", err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		fmt.Fprintf(&out, "(reading the logs: %v)", err)
	}
	s := strings.TrimSpace(out.String())
	if s == "" {
		return "\n(its log is empty)"
	}
	return "\nits last log lines:\n" + s
}

func newBuildkitClient(ctx context.Context, dc *docker.Client, id string) (*bkclient.Client, error) {
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		return dialStdio(ctx, dc, id)
	}
	return bkclient.New(ctx, "", bkclient.WithContextDialer(dial))
}

// dialStdio runs `buildctl dial-stdio` in the container and returns its
// standard input and output as a connection to buildkitd.
func dialStdio(ctx context.Context, dc *docker.Client, id string) (net.Conn, error) {
	ex, err := dc.ExecCreate(ctx, id, docker.ExecCreateOptions{
		Cmd:          []string{"buildctl", "dial-stdio"},
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("exec buildctl dial-stdio in %s: %w", shortID(id), err)
	}
	resp, err := dc.ExecAttach(ctx, ex.ID, docker.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("attaching to buildctl dial-stdio in %s: %w", shortID(id), err)
	}
	return demux(resp.Conn), nil
}

// demuxConn reads the standard output out of the Engine's multiplexed
// stream (no TTY); it writes to the exec's standard input unchanged.
type demuxConn struct {
	net.Conn
	r    *io.PipeReader
	once sync.Once
}

func demux(c net.Conn) net.Conn {
	pr, pw := io.Pipe()
	d := &demuxConn{Conn: c, r: pr}
	go func() {
		stderr := &tailBuffer{max: 4096}
		_, err := stdcopy.StdCopy(pw, stderr, c)
		if err == nil && stderr.Len() > 0 {
			err = fmt.Errorf("buildctl dial-stdio: %s", strings.TrimSpace(stderr.String()))
		}
		if err == nil {
			err = io.EOF
		}
		_ = pw.CloseWithError(err)
	}()
	return d
}

func (d *demuxConn) Read(p []byte) (int, error) { return d.r.Read(p) }

func (d *demuxConn) Close() error {
	var err error
	d.once.Do(func() {
		err = d.Conn.Close()
		_ = d.r.Close()
	})
	return err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n, _ := t.Buffer.Write(p)
	if over := t.Len() - t.max; over > 0 {
		t.Next(over)
	}
	return n, nil
}

// Remove stops and removes the container, and with volume its state
// volume. What is already gone is no error. A container of that name that
// this package did not make is left alone, with an error.
func Remove(ctx context.Context, o Options, volume bool) error {
	o = o.withDefaults()
	dc, err := newDockerClient(o.Host)
	if err != nil {
		return err
	}
	defer dc.Close()
	res, err := dc.ContainerInspect(ctx, o.Name, docker.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("inspecting BuildKit container %s: %w", o.Name, err)
	default:
		if res.Container.Config == nil || res.Container.Config.Labels[LabelBuilder] != "true" {
			return fmt.Errorf("container %s is not a slipway BuildKit container (no label %s=true): not removing it", o.Name, LabelBuilder)
		}
		o.logf("removing BuildKit container %s", o.Name)
		if err := removeContainer(ctx, dc, res.Container.ID); err != nil {
			return fmt.Errorf("removing BuildKit container %s: %w", o.Name, err)
		}
	}
	if !volume {
		return nil
	}
	switch _, err := dc.VolumeRemove(ctx, o.Volume, docker.VolumeRemoveOptions{}); {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("removing BuildKit state volume %s: %w", o.Volume, err)
	default:
		o.logf("removed BuildKit state volume %s", o.Volume)
	}
	return nil
}

// removeContainer stops the container (buildkitd gets SIGTERM and some
// seconds to finish) and removes it.
func removeContainer(ctx context.Context, dc *docker.Client, id string) error {
	t := stopTimeout
	if _, err := dc.ContainerStop(ctx, id, docker.ContainerStopOptions{Timeout: &t}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stopping: %w", err)
	}
	if _, err := dc.ContainerRemove(ctx, id, docker.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
