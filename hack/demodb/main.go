// Command demodb writes the small, clearly fake vulnerability DB that
// `make demo` scans with when Trivy's real DB cannot be downloaded: the
// same code the tests use (internal/scan/fixture).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/slipway-ci/slipway/internal/scan/fixture"
)

func main() {
	dir := flag.String("cache-dir", "", "Trivy cache directory to write <dir>/db into")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "demodb: -cache-dir is required")
		os.Exit(2)
	}
	if err := fixture.WriteDB(*dir, fixture.DemoAdvisories(), time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "demodb:", err)
		os.Exit(1)
	}
}
