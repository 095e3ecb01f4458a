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
	"./internal/ci/...", "./internal/config", "./internal/csvlist", "./internal/environ", "./internal/errs",
	"./internal/meta", "./internal/ocilayout", "./internal/pipeline", "./internal/registry",
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
