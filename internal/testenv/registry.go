package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
		cmd := exec.Command(RegistryBinary, "serve", cfg)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", RegistryBinary, err)
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
				return addr
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	t.Fatalf("a second registry did not start; its log:\n%s", log)
	return ""
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
