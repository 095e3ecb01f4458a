package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// twoNodeApp copies the same file into both platforms' images (one blob,
// made by both nodes) and records the machine each ran on; on arm64 it
// sleeps while the file SLEEP is in the context.
var twoNodeApp = map[string]string{
	"Dockerfile": `ARG BASE
FROM ${BASE}
COPY shared.txt /shared.txt
COPY . /src
RUN if [ -e /src/SLEEP ] && [ "$(uname -m)" = aarch64 ]; then echo sleeping on arm64; sleep 600; fi
RUN uname -m > /uname.txt
`,
	"shared.txt": "the same on every platform\n",
}

// twoNodes starts two buildkitds of the test's own, one building
// linux/amd64 only (over TCP with mTLS), one linux/arm64 only (a unix
// socket), and returns them and the builder input naming them.
func twoNodes(t *testing.T, e *testenv.Env) (amd, arm *testenv.Buildkitd, builder string) {
	t.Helper()
	amd = e.StartBuildkitdWith(t, testenv.BuildkitdOptions{TLS: true, Platforms: []string{"linux/amd64"}})
	arm = e.StartBuildkitdWith(t, testenv.BuildkitdOptions{Platforms: []string{"linux/arm64"}})
	builder = fmt.Sprintf("%s platforms=linux/amd64 tls-ca=%s tls-cert=%s tls-key=%s\n%s platforms=linux/arm64\n",
		amd.Addr, amd.CA, amd.ClientCert, amd.ClientKey, arm.Addr)
	return amd, arm, builder
}

// One run, two real BuildKit nodes, each building its platform: the
// index has both, with a provenance attestation each, pushed once by
// digest and tagged; each node's build history shows it solved its
// platform only; the report names which node built what.
func TestBuildOnTwoNodes(t *testing.T) {
	e := testenv.Get(t)
	amd, arm, builder := twoNodes(t, e)
	dir := testenv.GitProject(t, twoNodeApp)
	repo := e.UniqueRepo(t, "two-nodes")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_BUILDER": builder, "SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64", "SLIPWAY_PROVENANCE": "mode=min",
		"SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
	})
	res, r := runResult(t, dir, env)
	b := res.Build
	if len(b.Platforms) != 2 || b.Platforms[0].Platform != "linux/amd64" || b.Platforms[1].Platform != "linux/arm64" {
		t.Fatalf("platforms = %+v, want linux/amd64 and linux/arm64", b.Platforms)
	}
	if len(b.Nodes) != 2 || b.Nodes[0].Address != amd.Addr || strings.Join(b.Nodes[0].Platforms, ",") != "linux/amd64" ||
		b.Nodes[1].Address != arm.Addr || strings.Join(b.Nodes[1].Platforms, ",") != "linux/arm64" {
		t.Fatalf("nodes = %+v, want %s building linux/amd64 and %s linux/arm64", b.Nodes, amd.Addr, arm.Addr)
	}
	images := layoutImages(t, b.LayoutDir, b.DigestStr())
	shared := map[string]bool{}
	for platform, uname := range map[string]string{"linux/amd64": "x86_64\n", "linux/arm64": "aarch64\n"} {
		img := images[platform]
		if img == nil {
			t.Fatalf("no %s image in the index: %v", platform, images)
		}
		if got := fileIn(t, img, "/uname.txt"); got != uname {
			t.Errorf("%s: uname -m = %q, want %q", platform, got, uname)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		d, err := layers[1].Digest() // COPY shared.txt, after the base's one layer
		if err != nil {
			t.Fatal(err)
		}
		shared[d.String()] = true
	}
	if len(shared) != 1 {
		t.Errorf("the COPY layer differs between the platforms: %v", shared)
	}
	attestations := 0
	for k := range images {
		if strings.HasPrefix(k, "attestation:") {
			attestations++
		}
	}
	if attestations != 2 {
		t.Errorf("%d attestation manifests, want one provenance per platform", attestations)
	}
	registryHas(t, repo, b.DigestStr())
	if got := testenv.TagDigest(t, repo+":v1"); got != b.DigestStr() {
		t.Errorf("%s:v1 = %s, want %s", repo, got, b.DigestStr())
	}

	// Each node solved its own platform, and only it.
	for _, n := range []struct {
		bk       *testenv.Buildkitd
		platform string
	}{{amd, "linux/amd64"}, {arm, "linux/arm64"}} {
		records := 0
		for line := range strings.Lines(n.bk.Buildctl(t, "debug", "histories", "--format", "{{json .Record.FrontendAttrs}}")) {
			var fa map[string]string
			if err := json.Unmarshal([]byte(line), &fa); err != nil || fa == nil {
				continue
			}
			records++
			if fa["platform"] != n.platform {
				t.Errorf("node %s solved platform %q, want %s only", n.bk.Addr, fa["platform"], n.platform)
			}
		}
		if records == 0 {
			t.Errorf("node %s has no build in its history", n.bk.Addr)
		}
	}

	// Progress per node, and the report's node table.
	for _, n := range []*testenv.Buildkitd{amd, arm} {
		if !strings.Contains(r.stderr, "["+n.Addr+"] #") {
			t.Errorf("no progress line of node %s:\n%s", n.Addr, r.stderr)
		}
	}
	summary, err := os.ReadFile(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "slipway-summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| built by | platforms | in | steps cached |", "| `" + amd.Addr + "` | linux/amd64 |", "| `" + arm.Addr + "` | linux/arm64 |"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("the summary has no %q:\n%s", want, summary)
		}
	}
}

// A node lost mid-build (its buildkitd killed while it runs a step)
// fails the run at the build step, naming the node, and no tag moves.
func TestBuildNodeLostFailsWithNoTag(t *testing.T) {
	e := testenv.Get(t)
	_, arm, builder := twoNodes(t, e)
	files := map[string]string{"SLEEP": "the arm64 step sleeps\n"}
	for k, v := range twoNodeApp {
		files[k] = v
	}
	dir := testenv.GitProject(t, files)
	repo := e.UniqueRepo(t, "node-lost")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_IMAGES": repo, "SLIPWAY_CONTEXT": dir, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_BUILDER": builder, "SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64",
		"SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
	})
	cmd := slipwayCmd(t, dir, env, "run")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stderr)
	killed := false
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !killed && strings.HasPrefix(sc.Text(), "["+arm.Addr+"]") && strings.Contains(sc.Text(), "sleeping on arm64") {
			if err := arm.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	out := strings.Join(lines, "\n")
	if !killed {
		t.Fatalf("the arm64 node never reached its sleeping step (exit %v):\n%s", err, out)
	}
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit %d, want 1:\n%s", cmd.ProcessState.ExitCode(), out)
	}
	last := lastLine(out)
	if !strings.HasPrefix(last, "slipway: build: building linux/arm64 on node "+arm.Addr+":") {
		t.Errorf("last line %q, want the build step's error naming node %s", last, arm.Addr)
	}
	t.Logf("the lost node's run ends: %s", last)
	if tags := testenv.RegistryTags(t, repo); len(tags) != 0 {
		t.Errorf("%s has tags %q after a lost node", repo, tags)
	}
}
