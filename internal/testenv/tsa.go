package testenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// TimestampAuthority is a real RFC 3161 timestamp authority (Sigstore's
// timestamp-server, the binary hack/testdeps.sh builds) with an in-memory
// signer and its own certificate chain, in a Sandbox.
type TimestampAuthority struct {
	// URL is where timestamps are asked for, as cosign's
	// --timestamp-server-url takes it: http://127.0.0.1:<port>/api/v1/timestamp.
	URL string
	// Chain is its certificate chain, leaf first, root last, from
	// GET /api/v1/timestamp/certchain.
	Chain []*x509.Certificate
}

// StartTimestampAuthority starts a timestamp authority in a new Sandbox
// (its metrics server binds :2112 on every interface, with no flag to
// change it: the Sandbox keeps that inside), waits (bounded) until it
// serves its chain, and stops it, by its PID, when the test ends.
func StartTimestampAuthority(t testing.TB) *TimestampAuthority {
	t.Helper()
	bin := GoTool(t, "tsa")
	sb := NewSandbox(t)
	dir := t.TempDir()
	logf, logPath := daemonLog(t, dir, "timestamp-server")
	defer logf.Close()
	const port = "3004"
	cmd := exec.Command(bin, "serve",
		"--host=127.0.0.1", "--port="+port, "--timestamp-signer=memory",
		"--disable-ntp-monitoring", "--log-type=dev")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir}
	cmd.Stdout, cmd.Stderr = logf, logf
	d := startDaemon(t, "timestamp-server", cmd, func() error { return sb.Start(cmd) }, logPath)
	base := "http://" + sb.Forward(t, "127.0.0.1:"+port)
	tsa := &TimestampAuthority{URL: base + "/api/v1/timestamp"}
	hc := &http.Client{Timeout: 5 * time.Second}
	d.waitReady(t, func() (err error) {
		tsa.Chain, err = certChain(context.Background(), hc, tsa.URL+"/certchain")
		return err
	})
	return tsa
}

// certChain reads a PEM certificate chain from url.
func certChain(ctx context.Context, hc *http.Client, url string) ([]*x509.Certificate, error) {
	body, err := getOK(ctx, hc, url)
	if err != nil {
		return nil, err
	}
	chain, err := cryptoutils.UnmarshalCertificatesFromPEM(body)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("no certificate in %s", body)
	}
	return chain, nil
}

// Authority is the timestamp authority as a Sigstore trust root lists it.
func (a *TimestampAuthority) Authority() root.TimestampingAuthority {
	last := a.Chain[len(a.Chain)-1]
	ta := &root.SigstoreTimestampingAuthority{Root: last, URI: a.URL, ValidityPeriodStart: last.NotBefore}
	if len(a.Chain) > 1 {
		ta.Leaf = a.Chain[0]
		ta.Intermediates = a.Chain[1 : len(a.Chain)-1]
	}
	return ta
}
