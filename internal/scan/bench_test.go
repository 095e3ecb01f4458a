package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScanLayout is one scan of a fixture image from an OCI layout,
// every report written: analysis, DB lookups, filtering and reports.
// "warm" reuses the layer-analysis cache of the previous iteration (a CI
// cache, or an unchanged base image); "cold" analyses every layer again.
func BenchmarkScanLayout(b *testing.B) {
	for _, warm := range []bool{true, false} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			built := debianBuild(b)
			p := e.plan("CRITICAL", "HIGH")
			b.ReportAllocs()
			for b.Loop() {
				if !warm {
					b.StopTimer()
					// Trivy's fs analysis cache: <cache dir>/fanal.
					if err := os.RemoveAll(filepath.Join(e.cacheDir, "fanal")); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				e.log.Reset()
				if _, err := e.stage.Scan(context.Background(), p, built); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
