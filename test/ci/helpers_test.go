package ci

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/sign"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// docker runs the docker CLI against the test environment's dockerd and
// returns its standard output, trimmed; it fails the test when docker
// fails or runs for more than 15 minutes.
func docker(t *testing.T, e *testenv.Env, args ...string) string {
	t.Helper()
	stdout, _ := dockerOutput(t, e, args...)
	return stdout
}

// dockerOutput is docker, returning standard error too.
func dockerOutput(t *testing.T, e *testenv.Env, args ...string) (stdout, stderr string) {
	t.Helper()
	host, _ := e.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", host}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(withoutEnvValues(args), " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String()), errb.String()
}

// withoutEnvValues is args with the values of -e/--env options left
// out: they may be secrets.
func withoutEnvValues(args []string) []string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		if out[i-1] == "-e" || out[i-1] == "--env" {
			k, _, _ := strings.Cut(out[i], "=")
			out[i] = k + "=…"
		}
	}
	return out
}

// appFiles is the application the CI runs build: two stages, the first on
// the build platform, and a Debian-like final image whose openssl the
// fixture DB (scanDB) knows a HIGH vulnerability of (fixture.AppRootFS).
var appFiles = func() map[string]string {
	files := fixture.AppRootFS()
	files["src/greeting"] = "hello from the app\n"
	files["Dockerfile"] = `ARG BASE
FROM --platform=$BUILDPLATFORM ${BASE} AS build
ARG TARGETPLATFORM
COPY src/ /src/
RUN mkdir -p /out && cat /src/greeting > /out/greeting && echo "$TARGETPLATFORM" > /out/platform

FROM ${BASE}
COPY root/ /
COPY --from=build /out/ /app/
CMD ["cat", "/app/greeting", "/app/platform"]
`
	return files
}()

// fixtureCVE is the finding scanDB makes the app's openssl have.
var fixtureCVE = fixture.AppAdvisory.ID

// scanDB writes a fixture vulnerability DB (Trivy's cannot be downloaded
// here) into dir: fixtureCVE, HIGH, for the app's openssl.
func scanDB(t *testing.T, dir string) {
	t.Helper()
	if err := fixture.WriteDB(dir, []fixture.Advisory{fixture.AppAdvisory}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// cosignKeyPair writes a cosign key pair encrypted with password into dir
// with the cosign CLI, and returns the files.
func cosignKeyPair(t *testing.T, dir, password string) (priv, pub string) {
	t.Helper()
	cmd := exec.Command(testenv.GoTool(t, "cosign"), "generate-key-pair")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + t.TempDir(), "COSIGN_PASSWORD=" + password}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}

// verifySigned checks with the cosign CLI that ref is signed by pub.
func verifySigned(t *testing.T, pub, ref string) {
	t.Helper()
	if out, err := testenv.Cosign(t, keyVerifyArgs(t, "verify", pub, ref)...); err != nil {
		t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
	}
}

// keyVerifyArgs are the arguments of a cosign CLI verify command (verify,
// verify-attestation --type …) of ref by the key pub, offline, as
// slipway's verify-command gives them for the default signature format:
// with the log off, and the key-only trust root that a bundle on the
// digest makes cosign require.
func keyVerifyArgs(t *testing.T, cmd, pub, ref string, flags ...string) []string {
	t.Helper()
	root := filepath.Join(t.TempDir(), sign.KeyTrustedRootFile)
	if err := os.WriteFile(root, []byte(sign.KeyOnlyTrustedRoot), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{cmd, "--key", pub, "--insecure-ignore-tlog=true", "--trusted-root", root}
	return append(append(args, flags...), ref)
}

// imageTags lists the tags of repo but cosign's (sha256-<hex>.sig, .att).
func imageTags(t *testing.T, repo string) []string {
	t.Helper()
	var out []string
	for _, tg := range testenv.RegistryTags(t, repo) {
		if !strings.HasPrefix(tg, "sha256-") {
			out = append(out, tg)
		}
	}
	return out
}
