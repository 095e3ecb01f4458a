package ship

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/report"
	"github.com/slipway-ci/slipway/internal/testenv"
)

var (
	jfParallelStage = regexp.MustCompile(`(?m)^        stage\('([^']+)'\) \{\n(?s:(.*?))\n        \}\n`)
	jfPartialCall   = regexp.MustCompile(`partialResults\['([^']+)'\] = partial\('([^']+)'\)`)
	jfBuildkitHost  = regexp.MustCompile(`BUILDKIT_HOST = 'tcp://buildkitd-([a-z0-9]+)\.`)
	jfResultGrep    = regexp.MustCompile(`grep "\^([A-Z_]+)" "\$SLIPWAY_OUTPUT_DIR/slipway\.env"`)
)

// The Jenkins parallel example (no Jenkins here to run it; its scripts are
// slipway run and slipway merge, which the e2e tests run): one parallel
// stage per platform, named after it, building on a BuildKit daemon of its
// architecture, storing partial(<its platform>) under its platform; the result line is
// found by the prefix slipway writes into slipway.env
// (report.PartialEnvName); the merge stage runs slipway merge with the
// lines as its environment, which is where merge reads from by default.
func TestJenkinsParallelExample(t *testing.T) {
	src := readFile(t, filepath.Join(testenv.RepoRoot(t), "examples", "jenkins", "Jenkinsfile.parallel"))
	var platforms []string
	for _, m := range jfParallelStage.FindAllStringSubmatch(src, -1) {
		platform, body := m[1], m[2]
		platforms = append(platforms, platform)
		call := jfPartialCall.FindStringSubmatch(body)
		if call == nil || call[1] != platform || call[2] != platform {
			t.Errorf("stage %s does not store partial(%q) under its platform: %q", platform, platform, call)
		}
		_, arch, _ := strings.Cut(platform, "/")
		if h := jfBuildkitHost.FindStringSubmatch(body); h == nil || h[1] != arch {
			t.Errorf("stage %s builds on %q, want a buildkitd-%s daemon", platform, h, arch)
		}
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("parallel stages %q, want linux/amd64 and linux/arm64", platforms)
	}
	g := jfResultGrep.FindStringSubmatch(src)
	if g == nil {
		t.Fatal("the example does not grep its result line from slipway.env")
	}
	want := strings.TrimSuffix(report.PartialEnvName("linux/amd64"), "LINUX_AMD64")
	if g[1] != want || !strings.HasPrefix(g[1], config.ResultEnvPrefix) {
		t.Errorf("the example greps for %s, slipway writes %s<PLATFORM>", g[1], want)
	}
	merge := src[strings.Index(src, "stage('Merge')"):]
	for _, w := range []string{"withEnv(partialResults.values() as List)", "slipway merge"} {
		if !strings.Contains(merge, w) {
			t.Errorf("the merge stage lacks %q", w)
		}
	}
}
