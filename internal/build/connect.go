package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/moby/buildkit/client"
	// Connection helpers for docker-container:// and kube-pod:// builders.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"

	"github.com/slipway-ci/slipway/internal/build/dockerdriver"
)

// Connection is a BuildKit client and how to let go of it.
type Connection struct {
	Client *client.Client
	// Name says which builder this is, for messages and the report.
	Name  string
	close func() error
}

// Close closes the client and stops what Connect started for it (an
// embedded buildkitd); a BuildKit container is left running for reuse.
func (c *Connection) Close() error {
	err := c.Client.Close()
	if c.close != nil {
		err = errors.Join(err, c.close())
	}
	return err
}

// TLS is the mTLS material for a tcp:// builder.
type TLS struct {
	CA, Cert, Key, ServerName string
}

// Selection is what decides the builder.
type Selection struct {
	// Builder is the builder input or BUILDKIT_HOST: unix://, tcp://,
	// docker-container://, kube-pod://.
	Builder string
	TLS     TLS
	// DockerHost is the Docker Engine to start a BuildKit container in
	// (DOCKER_HOST, default /var/run/docker.sock), and BuildkitImage the
	// image it runs.
	DockerHost    string
	BuildkitImage string
	// Embedded starts a buildkitd child; nil means StartEmbedded.
	Embedded func(ctx context.Context, log io.Writer) (*Connection, error)
	// Log receives what Connect does ("starting a BuildKit container").
	Log io.Writer
}

// readyTimeout bounds the wait for a builder to answer.
const readyTimeout = 30 * time.Second

// Connect returns a builder, in order: the builder input or BUILDKIT_HOST;
// a BuildKit container through the Docker Engine at DockerHost (what makes
// a GitHub container action work: it is not privileged, but the runner
// mounts the Engine's socket into it); an embedded buildkitd when one is
// on PATH and slipway runs as root; else an error naming these ways.
func (s Selection) Connect(ctx context.Context) (*Connection, error) {
	if s.Builder != "" {
		return s.connectAddress(ctx)
	}
	if s.DockerHost != "" && dockerdriver.Available(ctx, s.DockerHost) {
		fmt.Fprintf(s.Log, "builder: a BuildKit container (%s) through the Docker Engine at %s\n", s.BuildkitImage, s.DockerHost)
		c, err := dockerdriver.Connect(ctx, dockerdriver.Options{Host: s.DockerHost, Image: s.BuildkitImage, Log: s.Log})
		if err != nil {
			return nil, fmt.Errorf("starting a BuildKit container through the Docker Engine at %s: %w", s.DockerHost, err)
		}
		return &Connection{Client: c, Name: "docker-container (" + s.DockerHost + ")"}, nil
	}
	embedded := s.Embedded
	if embedded == nil {
		embedded = StartEmbedded
	}
	c, err := embedded(ctx, s.Log)
	if errors.Is(err, ErrNoEmbedded) {
		return nil, fmt.Errorf("no BuildKit builder: set the builder input or BUILDKIT_HOST (unix://, tcp://, docker-container://, kube-pod://), "+
			"or give slipway a Docker Engine (DOCKER_HOST or /var/run/docker.sock), or run it as root with buildkitd on PATH (%v)", err)
	}
	return c, err
}

func (s Selection) connectAddress(ctx context.Context) (*Connection, error) {
	u, err := url.Parse(s.Builder)
	if err != nil {
		return nil, fmt.Errorf("builder address %q: %w", s.Builder, err)
	}
	var opts []client.ClientOpt
	if u.Scheme == "tcp" && (s.TLS.CA != "" || s.TLS.Cert != "") {
		name := s.TLS.ServerName
		if name == "" {
			name = u.Hostname()
		}
		opts = append(opts, client.WithServerConfig(name, s.TLS.CA))
		if s.TLS.Cert != "" {
			opts = append(opts, client.WithCredentials(s.TLS.Cert, s.TLS.Key))
		}
	}
	c, err := client.New(ctx, s.Builder, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to BuildKit at %s: %w", s.Builder, err)
	}
	if err := waitReady(ctx, c, 10*time.Second); err != nil {
		c.Close()
		return nil, fmt.Errorf("cannot reach BuildKit at %s: %w", s.Builder, err)
	}
	return &Connection{Client: c, Name: s.Builder}, nil
}

// waitReady polls the builder until it lists its workers, for at most d.
func waitReady(ctx context.Context, c *client.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.ListWorkers(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
