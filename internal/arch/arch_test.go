package arch

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are the modules only the stage implementations may link: each
// adds minutes of compile time and tens of megabytes to a test binary.
var heavy = []string{
	"github.com/moby/buildkit",
	"github.com/aquasecurity/trivy",
	"github.com/sigstore/cosign",
	"github.com/moby/moby",
}

// light are the packages whose test binaries must not link them.
var light = []string{
	"./internal/ci/...", "./internal/compare", "./internal/config", "./internal/csvlist", "./internal/environ", "./internal/errs",
	"./internal/meta", "./internal/ocilayout", "./internal/partial", "./internal/pipeline", "./internal/registry",
	"./internal/report", "./internal/semver", "./internal/version",
}

func TestLightPackagesDoNotLinkHeavyLibraries(t *testing.T) {
	for _, pkg := range light {
		out, err := exec.Command("go", "list", "-deps", "-test", "../../"+strings.TrimPrefix(pkg, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, h := range heavy {
				if strings.HasPrefix(dep, h+"/") {
					t.Errorf("%s links %s (through %s); only internal/stages and the stage packages may", pkg, h, dep)
					break
				}
			}
		}
	}
}

// fences are the slipway packages a package may not reach, even through
// others: inputs become a plan in internal/prepare and options in
// internal/stages, so that a stage knows neither the inputs' shape nor the
// CI platform, and the plan's model (internal/pipeline) knows neither.
var fences = map[string][]string{
	"./internal/registry": {"internal/ci", "internal/config", "internal/pipeline"},
	"./internal/artifact": {"internal/ci", "internal/config", "internal/pipeline"},
	"./internal/attrs":    {"internal/ci", "internal/config", "internal/pipeline"},
	"./internal/pipeline": {"internal/config", "internal/prepare"},
	"./internal/build":    {"internal/config", "internal/prepare"},
	"./internal/sign":     {"internal/config", "internal/prepare"},
	"./internal/scan":     {"internal/config", "internal/prepare"},
	"./internal/report":   {"internal/prepare"},
	"./internal/partial":  {"internal/config", "internal/prepare"},
	"./internal/compare":  {"internal/config", "internal/prepare"},
}

func TestFences(t *testing.T) {
	const module = "github.com/slipway-ci/slipway/"
	for pkg, banned := range fences {
		out, err := exec.Command("go", "list", "-deps", "../../"+strings.TrimPrefix(pkg, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == module+b {
					t.Errorf("%s imports %s; translate at the edge (internal/prepare, internal/stages) instead", pkg, b)
				}
			}
		}
	}
}
