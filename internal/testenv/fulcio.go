package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/sys/unix"
)

// Sandbox is a private network namespace with only a loopback interface.
// A server that binds every interface (Fulcio's metrics endpoint does,
// with no flag to change it) is reachable there only from inside; what
// the test reaches is forwarded from 127.0.0.1 of the host. It needs
// CAP_SYS_ADMIN (the test environment runs as root).
type Sandbox struct {
	ns *os.File
}

// NewSandbox creates the namespace; it goes away with its last socket
// and process, all closed or stopped at the test's end.
func NewSandbox(t testing.TB) *Sandbox {
	t.Helper()
	var ns *os.File
	err := onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		if err := loopbackUp(); err != nil {
			return err
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ns = f
		return err
	})
	if err != nil {
		t.Fatalf("creating a private network namespace (needs root): %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return &Sandbox{ns: ns}
}

// onLockedThread runs fn on an OS thread of its own, which ends with it:
// a namespace entered there never leaks to other goroutines. (A locked
// thread's own new threads come from the runtime's template thread.)
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		errc <- fn()
	}()
	return <-errc
}

// loopbackUp sets lo up in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo's flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}

// Do runs fn inside the namespace: sockets it creates and processes it
// starts belong there.
func (s *Sandbox) Do(fn func() error) error {
	return onLockedThread(func() error {
		if err := unix.Setns(int(s.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		return fn()
	})
}

// Listen listens on 127.0.0.1 of the namespace, on a free port.
func (s *Sandbox) Listen(t testing.TB) net.Listener {
	t.Helper()
	var l net.Listener
	if err := s.Do(func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	return l
}

// Start starts cmd inside the namespace and checks it is there.
func (s *Sandbox) Start(cmd *exec.Cmd) error {
	if err := s.Do(cmd.Start); err != nil {
		return err
	}
	var want, got syscall.Stat_t
	if err := syscall.Fstat(int(s.ns.Fd()), &want); err != nil {
		return err
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid), &got); err != nil {
		return err
	}
	if want.Ino != got.Ino {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return errors.New("the process did not start in the sandbox's network namespace")
	}
	return nil
}

// Forward listens on 127.0.0.1 of the host and forwards every connection
// to addr inside the namespace; it returns the host address.
func (s *Sandbox) Forward(t testing.TB, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			track(in)
			var out net.Conn
			err = s.Do(func() (err error) {
				out, err = net.DialTimeout("tcp", addr, 10*time.Second)
				return err
			})
			if err != nil {
				in.Close()
				continue
			}
			track(out)
			wg.Go(func() { _, _ = io.Copy(out, in); closeWrite(out) })
			wg.Go(func() { _, _ = io.Copy(in, out); closeWrite(in) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// OIDCIssuer is a test OpenID Connect provider: discovery document, JWKS
// and ES256 ID tokens it signs itself.
type OIDCIssuer struct {
	// URL is the issuer (the tokens' iss), http://127.0.0.1:<port>.
	URL string
	key *ecdsa.PrivateKey
	kid string
}

// StartOIDCIssuer serves an issuer on l until the test ends.
func StartOIDCIssuer(t testing.TB, l net.Listener) *OIDCIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &OIDCIssuer{URL: "http://" + l.Addr().String(), key: key, kid: "slipway-test"}
	b64 := base64.RawURLEncoding.EncodeToString
	pub, err := key.PublicKey.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": iss.kid,
		"x": b64(pub[1:33]), "y": b64(pub[33:]),
	}}})
	discovery, _ := json.Marshal(map[string]any{
		"issuer":                                iss.URL,
		"jwks_uri":                              iss.URL + "/keys",
		"authorization_endpoint":                iss.URL + "/auth",
		"token_endpoint":                        iss.URL + "/token",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
	mux := http.NewServeMux()
	serve := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", serve(discovery))
	mux.HandleFunc("GET /keys", serve(jwks))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return iss
}

// Token mints an ID token for audience "sigstore" with the standard
// claims (iss, aud, iat, nbf, exp in ten minutes) and claims.
func (i *OIDCIssuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{"iss": i.URL, "aud": "sigstore", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": i.kid})
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	signed := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, i.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64) // JWS ES256: R || S, 32 bytes each
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + b64(sig)
}

// Fulcio is a real Fulcio server (the binary hack/testdeps.sh builds)
// with an ephemeral CA, no CT log, and a test OIDC issuer of type email
// (client ID "sigstore"), both in a Sandbox.
type Fulcio struct {
	// URL is Fulcio as the host reaches it, http://127.0.0.1:<port>.
	URL    string
	Issuer *OIDCIssuer
	// Chain is the CA's certificate chain, leaf-most first, root last,
	// from GET /api/v2/trustBundle.
	Chain []*x509.Certificate
}

// StartFulcio starts an OIDC issuer and Fulcio in a new Sandbox, waits
// (bounded) for Fulcio to answer, and stops it, by its PID, when the
// test ends.
func StartFulcio(t testing.TB) *Fulcio {
	t.Helper()
	bin := GoTool(t, "fulcio")
	sb := NewSandbox(t)
	iss := StartOIDCIssuer(t, sb.Listen(t))

	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"OIDCIssuers": map[string]any{
		iss.URL: map[string]string{"IssuerURL": iss.URL, "ClientID": "sigstore", "Type": "email"},
	}})
	cfgPath := filepath.Join(dir, "fulcio.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	logf, logPath := daemonLog(t, dir, "fulcio")
	defer logf.Close()
	// The namespace is the test's own, so fixed ports are free, and so is
	// the abstract socket of Fulcio's legacy gRPC server (abstract unix
	// sockets belong to a network namespace). HTTP and gRPC on separate
	// ports, as Fulcio's docker-compose runs it: v1.8.4's one-port duplex
	// mode panics registering its gRPC metrics twice.
	const port = "5555"
	cmd := exec.Command(bin, "serve",
		"--ca=ephemeralca", "--ct-log-url=", "--config-path="+cfgPath, "--log_type=dev",
		"--host=127.0.0.1", "--port="+port, "--grpc-host=127.0.0.1", "--grpc-port=5554", "--metrics-port=2112")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir}
	cmd.Stdout, cmd.Stderr = logf, logf
	d := startDaemon(t, "fulcio", cmd, func() error { return sb.Start(cmd) }, logPath)
	f := &Fulcio{URL: "http://" + sb.Forward(t, "127.0.0.1:"+port), Issuer: iss}
	hc := &http.Client{Timeout: 5 * time.Second}
	d.waitReady(t, func() (err error) {
		f.Chain, err = trustBundle(context.Background(), hc, f.URL)
		return err
	})
	return f
}

// trustBundle reads Fulcio's CA chain.
func trustBundle(ctx context.Context, hc *http.Client, fulcioURL string) ([]*x509.Certificate, error) {
	body, err := getOK(ctx, hc, fulcioURL+"/api/v2/trustBundle")
	if err != nil {
		return nil, err
	}
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(body, &tb); err != nil {
		return nil, err
	}
	if len(tb.Chains) != 1 || len(tb.Chains[0].Certificates) == 0 {
		return nil, fmt.Errorf("want one certificate chain, got %s", body)
	}
	return cryptoutils.UnmarshalCertificatesFromPEM([]byte(strings.Join(tb.Chains[0].Certificates, "")))
}

// TrustedRoot is a Sigstore trusted_root.json holding Fulcio's CA only:
// no CT log (Fulcio runs without one), no Rekor, no timestamp authority.
func (f *Fulcio) TrustedRoot(t testing.TB) []byte {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{f.Authority()}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Authority is Fulcio's CA as a Sigstore trust root lists it.
func (f *Fulcio) Authority() root.CertificateAuthority {
	rootCert := f.Chain[len(f.Chain)-1]
	return &root.FulcioCertificateAuthority{
		Root:                rootCert,
		Intermediates:       f.Chain[:len(f.Chain)-1],
		ValidityPeriodStart: rootCert.NotBefore,
		URI:                 f.URL,
	}
}

// KeylessTrustedRoot writes the trusted_root.json of a keyless run
// against f, logged in r and timestamped by a, and returns its path.
func KeylessTrustedRoot(t testing.TB, f *Fulcio, r *Rekor, a *TimestampAuthority) string {
	t.Helper()
	id, tl := r.TransparencyLog(t)
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{f.Authority()}, nil,
		[]root.TimestampingAuthority{a.Authority()}, map[string]*root.TransparencyLog{id: tl})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tail is the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// daemonLog creates dir/<name>.log for a daemon's output, and returns
// it (the caller closes it once the daemon has it) and its path.
func daemonLog(t testing.TB, dir, name string) (*os.File, string) {
	t.Helper()
	path := filepath.Join(dir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

// getOK GETs url and returns its body (at most 1 MiB); any answer but a
// 200 is an error showing the body.
func getOK(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return body, nil
}

// daemon is a server a test started, logging to logPath.
type daemon struct {
	name, logPath string
	exited        chan struct{}
}

// startDaemon starts cmd with start (cmd.Start, or a Sandbox's), and
// stops it by its PID when the test ends, showing its log's tail if the
// test failed.
func startDaemon(t testing.TB, name string, cmd *exec.Cmd, start func() error, logPath string) *daemon {
	t.Helper()
	if err := start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	d := &daemon{name: name, logPath: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not stop", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s's log (tail):\n%s", name, tail(logPath, 60))
		}
	})
	return d
}

// waitReady polls ready every 200ms, at most 300 times (a minute), until
// it answers nil; the daemon exiting, or no answer, fails the test.
func (d *daemon) waitReady(t testing.TB, ready func() error) {
	t.Helper()
	var err error
	for range 300 {
		select {
		case <-d.exited:
			t.Fatalf("%s exited at start:\n%s", d.name, tail(d.logPath, 60))
		default:
		}
		if err = ready(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer in a minute (%v):\n%s", d.name, err, tail(d.logPath, 60))
}
