package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Buildkitd is a buildkitd of a test's own, with its own state (no cache
// shared with the environment's daemon), stopped by PID when the test ends.
type Buildkitd struct {
	// Addr is its address: unix://<dir>/buildkitd.sock, or
	// tcp://127.0.0.1:<port> with TLS.
	Addr string
	// With TLS, the PEM files of its CA and of a client certificate and
	// key that CA signed (what BUILDKIT_TLS_CA, _CERT and _KEY name).
	CA, ClientCert, ClientKey string
	// Log is the daemon's log file.
	Log string
	// Platforms are those its worker builds; nil for every platform
	// it can (through QEMU too).
	Platforms []string

	e          *Env
	clientArgs []string
	proc       *os.Process
}

// BuildkitdOptions say how StartBuildkitdWith starts a buildkitd.
type BuildkitdOptions struct {
	// TLS listens on 127.0.0.1 over TCP, for clients holding a
	// certificate of its own CA; else on a unix socket.
	TLS bool
	// Platforms restricts its worker to these platforms
	// (--oci-worker-platform), as a node building only its own.
	Platforms []string
	// Entitlements are what it permits builds to ask for
	// (--allow-insecure-entitlement), e.g. network.host.
	Entitlements []string
}

// StartBuildkitd starts a buildkitd with the environment's binary that
// pulls from the environment's registry over HTTP: on a unix socket, or
// with tlsTCP on 127.0.0.1 over TCP, talking only to clients holding a
// certificate of its own CA. It returns once the daemon answers.
func (e *Env) StartBuildkitd(t testing.TB, tlsTCP bool) *Buildkitd {
	t.Helper()
	return e.StartBuildkitdWith(t, BuildkitdOptions{TLS: tlsTCP})
}

// StartBuildkitdWith starts a buildkitd as StartBuildkitd does, as opts
// say.
func (e *Env) StartBuildkitdWith(t testing.TB, opts BuildkitdOptions) *Buildkitd {
	t.Helper()
	tlsTCP := opts.TLS
	// A short directory: it holds unix sockets.
	state, err := os.MkdirTemp("", "slipway-bk-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so that it runs after the daemon has stopped.
	t.Cleanup(func() { os.RemoveAll(state) })
	cfg := fmt.Sprintf("[registry.%q]\n  http = true\n", e.Registry)
	if err := os.WriteFile(filepath.Join(state, "buildkitd.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	bk := &Buildkitd{Addr: "unix://" + filepath.Join(state, "buildkitd.sock"), Log: filepath.Join(state, "buildkitd.log"), Platforms: opts.Platforms, e: e}
	args := []string{"--root", filepath.Join(state, "root"), "--otel-socket-path", filepath.Join(state, "otel.sock"),
		"--config", filepath.Join(state, "buildkitd.toml"), "--oci-worker=true", "--containerd-worker=false"}
	for _, p := range opts.Platforms {
		args = append(args, "--oci-worker-platform", p)
	}
	for _, en := range opts.Entitlements {
		args = append(args, "--allow-insecure-entitlement="+en)
	}
	var clientArgs []string
	if tlsTCP {
		pki := filepath.Join(state, "pki")
		if err := os.Mkdir(pki, 0o700); err != nil {
			t.Fatal(err)
		}
		ca, serverCert, serverKey := writePKI(t, pki)
		bk.CA, bk.ClientCert, bk.ClientKey = ca, filepath.Join(pki, "client.pem"), filepath.Join(pki, "client.key")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		bk.Addr = "tcp://" + l.Addr().String()
		l.Close()
		args = append(args, "--tlscacert", ca, "--tlscert", serverCert, "--tlskey", serverKey)
		clientArgs = []string{"--tlscacert", bk.CA, "--tlscert", bk.ClientCert, "--tlskey", bk.ClientKey}
	}
	logf, err := os.Create(bk.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(e.BuildkitdPath, append([]string{"--addr", bk.Addr}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting buildkitd: %v", err)
	}
	bk.proc, bk.clientArgs = cmd.Process, clientArgs
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := exec.CommandContext(ctx, e.BuildctlPath, append(append([]string{"--addr", bk.Addr}, clientArgs...), "debug", "workers")...).Run()
		cancel()
		if err == nil {
			return bk
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(bk.Log)
			t.Fatalf("buildkitd exited while starting:\n%s", log)
		default:
		}
		if i == 120 {
			log, _ := os.ReadFile(bk.Log)
			t.Fatalf("buildkitd did not answer at %s: %v\n%s", bk.Addr, err, log)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Kill stops the daemon at once (SIGKILL, by its PID), as a node lost
// mid-build.
func (b *Buildkitd) Kill() error { return b.proc.Kill() }

// Buildctl runs the environment's buildctl against this daemon and
// returns its standard output.
func (b *Buildkitd) Buildctl(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.e.BuildctlPath, append(append([]string{"--addr", b.Addr}, b.clientArgs...), args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("buildctl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// writePKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, as PEM files in dir; it returns the CA's and the server's
// files (the client's are client.pem and client.key).
func writePKI(t testing.TB, dir string) (ca, serverCert, serverKey string) {
	t.Helper()
	now := time.Now()
	caCert, caKey := WriteCert(t, dir, "ca", &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slipway test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	WriteCert(t, dir, "server", &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "buildkitd"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caCert, caKey)
	WriteCert(t, dir, "client", &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "slipway"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, caCert, caKey)
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
}

// WriteCert writes a certificate (signed by parent, or self-signed when
// parent is nil) and its new P-256 key as PEM files dir/name.pem and
// dir/name.key.
func WriteCert(t testing.TB, dir, name string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der}, name + ".key": {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}
