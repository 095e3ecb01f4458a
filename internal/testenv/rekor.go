package testenv

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// Rekor is a Rekor v2 transparency log (rekor-tiles with its POSIX
// storage) on loopback, its key and storage the test's own.
type Rekor struct {
	// URL is the log's base URL (http://127.0.0.1:<port>); entries go to
	// URL + /api/v2/log/entries.
	URL string
	// Origin is the checkpoint origin the log signs with: the host of
	// URL, which is what verifiers check checkpoints against.
	Origin string
	// PublicKey is the log's checkpoint key.
	PublicKey ed25519.PublicKey
	// Started is when the log started: its validity start in a trust root.
	Started time.Time
}

// StartRekor starts a Rekor v2 log with a fresh ed25519 key and an empty
// storage directory, waits (bounded) until it answers, and stops it, by
// its PID, when the test ends. Checkpoints are published every 100ms, so
// an upload (which waits for the checkpoint that includes it) returns
// quickly.
func StartRekor(t testing.TB) *Rekor {
	t.Helper()
	bin := GoTool(t, "rekor")
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "rekor.key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatal(err)
	}
	// rekor-tiles refuses port 0: three free ports, asked for now.
	var ports [3]string
	for i := range ports {
		addr, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if _, ports[i], err = net.SplitHostPort(addr); err != nil {
			t.Fatal(err)
		}
	}
	logf, logPath := daemonLog(t, dir, "rekor")
	defer logf.Close()
	const origin = "127.0.0.1"
	cmd := exec.Command(bin, "serve",
		"--hostname="+origin, "--storage-dir="+storage, "--signer-filepath="+keyPath,
		"--http-address=127.0.0.1", "--http-port="+ports[0],
		"--grpc-address=127.0.0.1", "--grpc-port="+ports[1], "--http-metrics-port="+ports[2],
		"--checkpoint-interval=100ms", "--batch-max-age=50ms")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir}
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now().Add(-time.Minute) // the trust root's start, before any entry
	d := startDaemon(t, "rekor", cmd, cmd.Start, logPath)
	r := &Rekor{URL: "http://" + net.JoinHostPort("127.0.0.1", ports[0]), Origin: origin, PublicKey: pub, Started: started}
	hc := &http.Client{Timeout: 5 * time.Second}
	d.waitReady(t, func() error { return healthy(context.Background(), hc, r.URL+"/healthz") })
	return r
}

// healthy GETs url and wants a 200.
func healthy(ctx context.Context, hc *http.Client, url string) error {
	_, err := getOK(ctx, hc, url)
	return err
}

// TransparencyLog is the log as a Sigstore trust root lists it: keyed,
// in root.NewTrustedRoot's map, by the hex of its ID (the C2SP
// signed-note hash of origin and key, which the log puts in every entry).
func (r *Rekor) TransparencyLog(t testing.TB) (string, *root.TransparencyLog) {
	t.Helper()
	_, id, err := note.KeyHash(r.Origin, r.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(id), &root.TransparencyLog{
		BaseURL: r.URL, ID: id, ValidityPeriodStart: r.Started,
		HashFunc: crypto.SHA256, PublicKey: r.PublicKey, SignatureHashFunc: crypto.SHA256,
	}
}

// Root is a Sigstore trust root naming the log, and no certificate
// authority (key-based signing).
func (r *Rekor) Root(t testing.TB) *root.TrustedRoot {
	t.Helper()
	id, tl := r.TransparencyLog(t)
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, nil, nil, nil, map[string]*root.TransparencyLog{id: tl})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TrustedRoot writes Root as a trusted_root.json and returns its path.
func (r *Rekor) TrustedRoot(t testing.TB) string {
	t.Helper()
	b, err := r.Root(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
