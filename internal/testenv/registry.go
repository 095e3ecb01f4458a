package testenv

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RegistryBinary is the registry hack/testenv.sh installs (Debian's
// docker-registry package, the distribution registry).
const RegistryBinary = "/usr/bin/docker-registry"

// StartRegistry starts another real registry on 127.0.0.1 for the test,
// with its storage under the test's temp dir, and stops it (by its PID)
// when the test ends. It returns its host:port.
func StartRegistry(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		t.Fatalf("%s: %v (%s)", RegistryBinary, err, NotRunning)
	}
	addr, _ := startRegistry(t, RegistryBinary)
	return addr
}

// CollectedRegistry is a registry StartCollectedRegistry started, whose
// garbage collector a test runs.
type CollectedRegistry struct {
	Addr   string // host:port
	config string
}

// StartCollectedRegistry starts a registry as StartRegistry does, for a
// test that runs its garbage collector.
func StartCollectedRegistry(t testing.TB) *CollectedRegistry {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		t.Fatalf("%s: %v (%s)", RegistryBinary, err, NotRunning)
	}
	addr, cfg := startRegistry(t, RegistryBinary)
	return &CollectedRegistry{Addr: addr, config: cfg}
}

// GarbageCollect runs the registry's garbage collector (registry
// garbage-collect: blobs no manifest references are removed) and returns
// its output.
func (r *CollectedRegistry) GarbageCollect(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(RegistryBinary, "garbage-collect", r.config).CombinedOutput()
	if err != nil {
		t.Fatalf("%s garbage-collect: %v\n%s", RegistryBinary, err, out)
	}
	return string(out)
}

// StartDistributionV3 starts distribution v3's registry (the version
// hack/testdeps.sh pins as DISTRIBUTION_VERSION) as StartRegistry does
// Debian's 2.8. It returns its host:port.
func StartDistributionV3(t testing.TB) string {
	t.Helper()
	addr, _ := startRegistry(t, GoTool(t, "distribution"))
	return addr
}

// StartReferrersRegistry serves go-containerregistry's registry, which
// has the OCI 1.1 Referrers API, on 127.0.0.1 for the test. It returns
// its host:port.
func StartReferrersRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startRegistry runs bin serve config.yml, a distribution registry, on a
// free loopback port, its storage under the test's temp dir.
// startRegistry returns the registry's host:port and its configuration
// file.
func startRegistry(t testing.TB, bin string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		addr, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "config.yml")
		err = os.WriteFile(cfg, fmt.Appendf(nil, `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(filepath.Join(dir, "registry.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", cfg)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
			logf.Close()
		}
		// Bounded: 100 tries, 50 ms apart.
		for i := 0; i < 100; i++ {
			select {
			case <-exited:
				i = 100 // a port taken meanwhile: try another
				continue
			default:
			}
			if ping(addr) == nil {
				t.Cleanup(stop)
				return addr, cfg
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
	}
	logged, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	t.Fatalf("%s did not start; its log:\n%s", bin, logged)
	return "", ""
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// RegistryTags lists the tags of repo (host:port/name, plain HTTP on
// loopback), sorted; none for a repository that holds no tag.
func RegistryTags(t testing.TB, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		// distribution answers NAME_UNKNOWN for a repository that holds
		// manifests but no tag.
		return nil
	}
	if err != nil {
		t.Fatalf("listing the tags of %s: %v", repo, err)
	}
	slices.Sort(tags)
	return tags
}

// TagDigest returns the digest the tag ref (repository:tag) points at.
func TagDigest(t testing.TB, ref string) string {
	t.Helper()
	r, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	return d.Digest.String()
}

// Cosign runs the cosign CLI that hack/testdeps.sh builds (the version
// slipway links) offline, with no TUF root or user configuration and an
// empty COSIGN_PASSWORD (for a test key made without one), and
// returns its combined output.
func Cosign(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return cosignCLI(t, "cosign", args...)
}

// Cosign3 runs the current cosign CLI, v3 (hack/testdeps.sh builds it
// as cosign3), as Cosign does v2.
func Cosign3(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return cosignCLI(t, "cosign3", args...)
}

// Oras runs the oras CLI that hack/testdeps.sh builds (ORAS_VERSION)
// with no user configuration (callers pass --plain-http for the test's
// registries), and returns its standard output.
func Oras(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(GoTool(t, "oras"), args...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("oras %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func cosignCLI(t testing.TB, tool string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(GoTool(t, tool), args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + t.TempDir(), "COSIGN_PASSWORD="} //nolint:forbidigo // the tool's PATH
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// UniqueRepo returns a repository in the registry that no other run used:
// <registry>/e2e/<base>-<random>.
func (e *Env) UniqueRepo(t testing.TB, base string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/e2e/%s-%x", e.Registry, base, b)
}

// LocalhostRef names ref, a reference in the registry, as
// localhost:<port>/…: so a BuildKit that slipway starts itself (through
// the Docker Engine, or embedded) reaches the registry, since BuildKit
// speaks plain HTTP to localhost without configuration.
func (e *Env) LocalhostRef(ref string) string {
	_, port, _ := strings.Cut(e.Registry, ":")
	return strings.Replace(ref, e.Registry, "localhost:"+port, 1)
}
