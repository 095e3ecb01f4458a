package main

import (
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

	"github.com/slipway-ci/slipway/internal/testenv"
)

// writeCert writes a certificate (signed by parent, or self-signed when
// parent is nil) and its key as PEM files dir/name.{pem,key}.
func writeCert(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
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
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	for file, block := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der}, name + ".key": {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}

// Path 1 over tcp:// with mutual TLS: a second buildkitd that only talks
// to clients holding a certificate of its CA.
func TestBuilderTCPWithMTLS(t *testing.T) {
	e := testenv.Get(t)
	pki := t.TempDir()
	now := time.Now()
	ca, caKey := writeCert(t, pki, "ca", &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slipway test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	writeCert(t, pki, "server", &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "buildkitd"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	writeCert(t, pki, "client", &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "slipway"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + l.Addr().String()
	l.Close()
	state, err := os.MkdirTemp("", "bk-tls-") // short: it holds unix sockets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	cfg := fmt.Sprintf("[registry.%q]\n  http = true\n", e.Registry)
	if err := os.WriteFile(filepath.Join(state, "buildkitd.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(state, "buildkitd.log"))
	bk := exec.Command(e.BuildkitdPath, "--addr", addr, "--root", filepath.Join(state, "root"),
		"--otel-socket-path", filepath.Join(state, "otel.sock"), "--config", filepath.Join(state, "buildkitd.toml"),
		"--tlscacert", filepath.Join(pki, "ca.pem"), "--tlscert", filepath.Join(pki, "server.pem"), "--tlskey", filepath.Join(pki, "server.key"),
		"--oci-worker=true", "--containerd-worker=false")
	bk.Stdout, bk.Stderr = logf, logf
	if err := bk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bk.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { bk.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			bk.Process.Kill()
			<-done
		}
	})

	dir := project(t, map[string]string{"Dockerfile": builderDockerfile})
	env := noBuilderEnv(t, e, dir, map[string]string{
		"BUILDKIT_HOST":      addr,
		"BUILDKIT_TLS_CA":    filepath.Join(pki, "ca.pem"),
		"BUILDKIT_TLS_CERT":  filepath.Join(pki, "client.pem"),
		"BUILDKIT_TLS_KEY":   filepath.Join(pki, "client.key"),
		"SLIPWAY_IMAGES":     uniqueRepo(t, e, "mtls"),
		"SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
	})
	res, _ := runResult(t, dir, env)
	registryHas(t, env["SLIPWAY_IMAGES"], res.Build.Digest)

	// Without the client certificate the daemon refuses the connection.
	delete(env, "BUILDKIT_TLS_CERT")
	delete(env, "BUILDKIT_TLS_KEY")
	r := slipway(t, dir, env, "run")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "cannot reach BuildKit at "+addr) {
		log, _ := os.ReadFile(filepath.Join(state, "buildkitd.log"))
		t.Fatalf("without a client certificate: exit %d, want 1 naming %s\n%s\nbuildkitd:\n%s", r.code, addr, r.stderr, log)
	}
}
