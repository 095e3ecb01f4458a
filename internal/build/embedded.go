package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

// ErrNoEmbedded says that no embedded buildkitd can run here.
var ErrNoEmbedded = errors.New("no embedded buildkitd")

// stopTimeout bounds the wait for buildkitd to exit after SIGTERM.
const stopTimeout = 10 * time.Second

// StartEmbedded starts buildkitd (from PATH) as a child with a temporary
// root and socket, and returns a connection whose Close stops it and
// removes its directory. It needs root (BuildKit's OCI worker runs runc):
// GitLab privileged runners, Jenkins agents, a person's machine.
func StartEmbedded(ctx context.Context, log io.Writer) (*Connection, error) {
	bin, err := exec.LookPath("buildkitd")
	if err != nil {
		return nil, fmt.Errorf("%w: buildkitd is not on PATH", ErrNoEmbedded)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: buildkitd needs root and slipway runs as uid %d", ErrNoEmbedded, os.Geteuid())
	}
	dir, err := os.MkdirTemp("", "slipway-buildkitd-")
	if err != nil {
		return nil, fmt.Errorf("creating the embedded buildkitd's directory: %w", err)
	}
	addr := "unix://" + filepath.Join(dir, "buildkitd.sock")
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--addr", addr, "--root", filepath.Join(dir, "root"),
		"--otel-socket-path", filepath.Join(dir, "otel.sock"), "--oci-worker=true", "--containerd-worker=false",
		// What a build may ask for (allow, network: host), as buildx's
		// container drivers permit it.
		"--allow-insecure-entitlement=network.host")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// Its own process group: a terminal's ^C reaches slipway, which then
	// stops buildkitd itself, after the build has let go of it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(log, "builder: starting an embedded buildkitd (%s)\n", bin)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		defer os.RemoveAll(dir)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return nil
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("buildkitd (pid %d) did not stop within %s of SIGTERM and was killed", cmd.Process.Pid, stopTimeout)
		}
	}
	c, err := client.New(ctx, addr)
	if err == nil {
		err = waitEmbedded(ctx, c, exited)
	}
	if err != nil {
		stop()
		fmt.Fprintf(log, "buildkitd's log:\n%s\n", tail(logs.String(), 2000))
		return nil, fmt.Errorf("starting buildkitd: %w (its log is above)", err)
	}
	return &Connection{Client: c, Name: "embedded buildkitd", close: stop}, nil
}

// waitEmbedded waits until buildkitd answers or exits.
func waitEmbedded(ctx context.Context, c *client.Client, exited chan error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- waitReady(ctx, c, readyTimeout) }()
	select {
	case err := <-ready:
		return err
	case err := <-exited:
		exited <- err
		return fmt.Errorf("buildkitd exited: %w", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
