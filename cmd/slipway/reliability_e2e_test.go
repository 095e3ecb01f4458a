package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// faultRunEnv is a full run (build, scan, sign, copy, tag) of dir
// publishing to repo and a copy in mirror, both behind a fault proxy. The
// base image comes from the test registry directly: only slipway's own
// requests go through the proxy.
func faultRunEnv(t *testing.T, e *testenv.Env, dir, priv, repo, mirror string) map[string]string {
	t.Helper()
	return buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo + "\n" + mirror, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": "CRITICAL",
		"SLIPWAY_SIGN": "true", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "pw", "SLIPWAY_TLOG_UPLOAD": "false",
	})
}

// decodeRun decodes the JSON result of a run that exited 0.
func decodeRun(t *testing.T, r result) *pipeline.Result {
	t.Helper()
	var res pipeline.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("decoding the run result: %v\n%s", err, r.stdout)
	}
	return &res
}

// noTagOnAnUnsignedDigest checks the invariant a failed run must keep:
// every tag in repo (on the registry behind the proxy) points at a digest
// that carries a signature.
func noTagOnAnUnsignedDigest(t *testing.T, repo string) {
	t.Helper()
	tags := testenv.RegistryTags(t, repo)
	for _, tag := range tags {
		if strings.HasPrefix(tag, "sha256-") {
			continue
		}
		d := testenv.TagDigest(t, repo+":"+tag)
		sig := "sha256-" + strings.TrimPrefix(d, "sha256:") + ".sig"
		if !contains(tags, sig) {
			t.Errorf("%s:%s points at %s, which has no signature", repo, tag, d)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// One transient fault on the first request of every kind a run makes
// (the ping, manifest and blob reads and writes, upload sessions, tags),
// each kind of fault in turn: every run publishes, signed.
func TestRunSurvivesTheFirstFaultOfEachKind(t *testing.T) {
	e := testenv.Get(t)
	upstream := testenv.StartRegistry(t)
	dir := testenv.GitProject(t, signedApp)
	priv, _ := keyPair(t, t.TempDir(), "pw")
	for _, f := range testenv.Faults {
		t.Run(string(f), func(t *testing.T) {
			proxy := testenv.StartFaultProxy(t, upstream, testenv.FirstOfEach(f, testenv.RequestKinds...))
			repo, mirror := proxy.Host+"/first/"+string(f), proxy.Host+"/first/"+string(f)+"-mirror"
			r := slipway(t, dir, faultRunEnv(t, e, dir, priv, repo, mirror), "run", "--output", "json")
			if r.code != 0 {
				t.Fatalf("exit %d with one %s fault per kind of request\nstderr:\n%s", r.code, f, r.stderr)
			}
			res := decodeRun(t, r)
			if res.Sign == nil || !res.Sign.Verified {
				t.Errorf("not signed and verified: %+v", res.Sign)
			}
			for _, rp := range []string{upstream + "/first/" + string(f), upstream + "/first/" + string(f) + "-mirror"} {
				if got := testenv.TagDigest(t, rp+":v1"); got != res.Build.DigestStr() {
					t.Errorf("%s:v1 = %s, want %s", rp, got, res.Build.DigestStr())
				}
			}
			faulted := proxy.Faulted()
			for _, k := range []string{"ping", "manifest-get", "manifest-put-digest", "manifest-put-tag", "blob-head", "upload-start", "upload-patch", "upload-put"} {
				if !faulted[k] {
					t.Errorf("no %s request got the %s fault", k, f)
				}
			}
			if !strings.Contains(r.stderr, "slipway: registry: ") {
				t.Errorf("no retry was logged:\n%s", r.stderr)
			}
		})
	}
}

// At 20 % random faults (503, 429 with Retry-After, resets, answers cut
// in the middle) on every request, seeded: at least 19 of 20 runs
// publish, and a run that fails leaves no tag on an unsigned digest.
func TestRunsPublishThroughRandomFaults(t *testing.T) {
	e := testenv.Get(t)
	upstream := testenv.StartRegistry(t)
	dir := testenv.GitProject(t, signedApp)
	priv, _ := keyPair(t, t.TempDir(), "pw")
	proxy := testenv.StartFaultProxy(t, upstream, nil)
	published, faults, retries := 0, 0, 0
	for seed := range uint64(20) {
		proxy.SetPlan(testenv.Random(seed, 0.2, testenv.Faults...))
		before := len(proxy.Requests())
		repo := fmt.Sprintf("%s/random/s%d", proxy.Host, seed)
		r := slipway(t, dir, faultRunEnv(t, e, dir, priv, repo, repo+"-mirror"), "run", "--output", "json")
		for _, q := range proxy.Requests()[before:] {
			if q.Fault != testenv.NoFault {
				faults++
			}
		}
		retries += strings.Count(r.stderr, "slipway: registry: ")
		switch r.code {
		case 0:
			published++
			res := decodeRun(t, r)
			if got := testenv.TagDigest(t, fmt.Sprintf("%s/random/s%d:v1", upstream, seed)); got != res.Build.DigestStr() {
				t.Errorf("seed %d: v1 = %s, want %s", seed, got, res.Build.DigestStr())
			}
		case 1:
			t.Logf("seed %d failed cleanly: %s", seed, lastLine(r.stderr))
		default:
			t.Errorf("seed %d: exit %d\n%s", seed, r.code, r.stderr)
		}
		for _, rp := range []string{"/random/s%d", "/random/s%d-mirror"} {
			noTagOnAnUnsignedDigest(t, upstream+fmt.Sprintf(rp, seed))
		}
	}
	t.Logf("%d of 20 runs published; %d faults injected, %d retries logged", published, faults, retries)
	if published < 19 {
		t.Errorf("%d of 20 runs published through 20 %% faults, want at least 19", published)
	}
	if faults < 20*10 {
		t.Errorf("only %d faults were injected over 20 runs", faults)
	}
}

// containers/image (what podman, skopeo and CRI-O verify with), given a
// sigstoreSigned policy for the registry, accepts `copy --all` of
// slipway's one- and two-platform images, every instance of the index
// signed, and rejects an image slipway did not sign.
func TestContainersImageAcceptsCopyAll(t *testing.T) {
	e := testenv.Get(t)
	tool := testenv.CImageCopy(t)
	dir := testenv.GitProject(t, signedApp)
	keys := t.TempDir()
	priv, pub := keyPair(t, keys, "pw")
	policy := filepath.Join(keys, "policy.json")
	writeTestFile(t, policy, fmt.Sprintf(`{"default":[{"type":"reject"}],"transports":{
  "docker":{%q:[{"type":"sigstoreSigned","keyPath":%q,"signedIdentity":{"type":"matchRepository"}}]},
  "dir":{"":[{"type":"insecureAcceptAnything"}]}}}`, e.Registry, pub))
	regd := filepath.Join(keys, "registries.d")
	writeTestFile(t, filepath.Join(regd, "slipway.yaml"), fmt.Sprintf("docker:\n  %s:\n    use-sigstore-attachments: true\n", e.Registry))
	copyAll := func(ref string) (string, error) {
		cmd := exec.Command(tool, "--policy", policy, "--registries-d", regd, "--all", "--insecure",
			"docker://"+ref, "dir:"+filepath.Join(t.TempDir(), "copy"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name, platforms, sign string
		accepted              bool
	}{
		{"one platform", "linux/amd64", "true", true},
		{"two platforms", "linux/amd64,linux/arm64", "true", true},
		{"unsigned", "linux/amd64", "false", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := e.UniqueRepo(t, "cimage")
			env := buildEnv(t, e, map[string]string{
				"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
				"SLIPWAY_PLATFORMS": tc.platforms, "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
				"SLIPWAY_SIGN": tc.sign, "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "pw", "SLIPWAY_TLOG_UPLOAD": "false",
			})
			res, _ := runResult(t, dir, env)
			ref := strings.Replace(repo, "localhost:", "127.0.0.1:", 1) + "@" + res.Build.DigestStr()
			out, err := copyAll(ref)
			switch {
			case tc.accepted && err != nil:
				t.Errorf("containers/image rejected copy --all of %s: %v\n%s", ref, err, out)
			case !tc.accepted && err == nil:
				t.Errorf("containers/image accepted the unsigned %s", ref)
			case !tc.accepted && !strings.Contains(out, "signature"):
				t.Errorf("rejected for another reason than the signature: %s", out)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
