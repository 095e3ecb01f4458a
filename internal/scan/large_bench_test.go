package scan

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/severity"
)

// rootfsEnv names the root filesystem BenchmarkScanLargeImage scans.
const rootfsEnv = "SLIPWAY_BENCH_ROOTFS"

// BenchmarkScanLargeImage is the scan stage on a large image: a
// single-layer linux/amd64 image of a real root filesystem (a Debian 12
// debootstrap, made by bench/scan-large.sh, which sets
// SLIPWAY_BENCH_ROOTFS), against a fixture DB with advisories for the
// packages installed there. Each iteration is one full Scan, every
// report written. "cold" removes Trivy's layer-analysis cache before each
// scan (the layer is read, decompressed and analysed); "warm" keeps it
// (primed by one untimed scan): what a CI run with a cached
// scan-cache-dir and an unchanged layer does.
//
// Metrics: ns/op, image-MB (the compressed layer), rootfs-MB (the layer
// uncompressed), packages and findings of the scan, and peak-heap-MB /
// peak-go-MB: the highest Go heap in use and Go-held memory (runtime
// memory classes, total minus released) sampled every few milliseconds
// during the scans, from a collected heap before each scan.
func BenchmarkScanLargeImage(b *testing.B) {
	rootfs := os.Getenv(rootfsEnv)
	if rootfs == "" {
		b.Fatalf("%s is not set: run bench/scan-large.sh, which makes a Debian root filesystem (debootstrap) and runs this benchmark on it", rootfsEnv)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "var", "lib", "dpkg", "status")); err != nil {
		b.Fatalf("%s=%s: no dpkg status (%v): make the root filesystem with bench/scan-large.sh", rootfsEnv, rootfs, err)
	}

	pkgs, err := readDpkgStatus(filepath.Join(rootfs, "var", "lib", "dpkg", "status"))
	if err != nil {
		b.Fatal(err)
	}
	advisories := largeAdvisories(pkgs)
	t0 := time.Now()
	built, sizes := rootfsLayout(b, rootfs)
	imageNote := fmt.Sprintf("image of %s built in %v (untimed): %d packages installed, %d advisories (one per 5th source package); layer %.1f MB compressed, %.1f MB uncompressed; process RSS %s",
		rootfs, time.Since(t0).Round(time.Millisecond), len(pkgs), len(advisories), mb(sizes.compressed), mb(sizes.uncompressed), rssNote())

	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			cacheDir, out := b.TempDir(), b.TempDir()
			if err := fixture.WriteDB(cacheDir, advisories, now); err != nil {
				b.Fatal(err)
			}
			log := &bytes.Buffer{}
			rec := &recorder{}
			stage := &Stage{OutputDir: out, Log: log, Transport: rec, Now: func() time.Time { return now }, ImageName: "registry.example/slipway/debian-large"}
			p := &pipeline.ScanPlan{
				Enabled: true, Severity: []severity.Severity{"CRITICAL", "HIGH"}, Fail: true,
				CacheDir: cacheDir, DBRepository: []string{unreachableRepo}, SkipDBUpdate: true,
			}
			scan := func() *Result {
				log.Reset()
				r, err := stage.Scan(context.Background(), p, built)
				if err != nil {
					b.Fatalf("scan: %v\nlog:\n%s", err, log)
				}
				return r
			}
			if warm {
				t0 := time.Now()
				scan() // fills Trivy's layer-analysis cache
				b.Logf("untimed priming scan (cold): %v", time.Since(t0).Round(time.Millisecond))
			} else {
				b.Log(imageNote)
			}
			var peak heapPeak
			var r *Result
			var times []string
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if !warm {
					// Trivy's fs analysis cache: <cache dir>/fanal.
					if err := os.RemoveAll(filepath.Join(cacheDir, "fanal")); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				stop := peak.sample(2 * time.Millisecond)
				b.StartTimer()
				t0 := time.Now()
				r = scan()
				d := time.Since(t0)
				b.StopTimer()
				stop()
				times = append(times, d.Round(time.Millisecond).String())
				b.StartTimer()
			}
			if reqs := rec.requests(); len(reqs) > 0 {
				b.Fatalf("the scan made HTTP requests: %v", reqs)
			}
			if len(r.Findings) == 0 || len(r.Platforms) != 1 {
				b.Fatalf("expected findings on one platform, got %d findings on %d platforms\nlog:\n%s", len(r.Findings), len(r.Platforms), log)
			}
			b.Logf("%s scans, in order: %s; %d findings (%d blocking at CRITICAL,HIGH) in %d packages of %s; process RSS after them %s",
				name, strings.Join(times, " "), len(r.Findings), len(r.Blocking), r.Platforms[0].Packages, r.Platforms[0].OS, rssNote())
			b.ReportMetric(mb(sizes.compressed), "image-MB")
			b.ReportMetric(mb(sizes.uncompressed), "rootfs-MB")
			b.ReportMetric(float64(r.Platforms[0].Packages), "packages")
			b.ReportMetric(float64(len(r.Findings)), "findings")
			b.ReportMetric(mb(peak.heap), "peak-heap-MB")
			b.ReportMetric(mb(peak.held), "peak-go-MB")
		})
	}
}

func mb(n uint64) float64 { return float64(n) / 1e6 }

// rssNote is the process's resident set now and its high-water mark so
// far (VmRSS, VmHWM of /proc/self/status), "unknown" off Linux.
func rssNote() string {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	var rss, hwm string
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("%s (peak so far %s)", rss, hwm)
}

// heapPeak is the highest Go heap in use (runtime.MemStats.HeapInuse:
// objects plus unused span space) and Go-held memory (everything the
// runtime mapped, minus what it gave back: close to the process's RSS
// less non-Go mappings such as bbolt's mmap), seen while sampling.
type heapPeak struct {
	mu         sync.Mutex
	heap, held uint64
}

var heapMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
}

// sample reads the runtime's memory classes every interval (runtime/metrics
// does not stop the world, as ReadMemStats does) until stop is called.
func (h *heapPeak) sample(interval time.Duration) (stop func()) {
	samples := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		samples[i].Name = name
	}
	read := func() {
		metrics.Read(samples)
		heap := samples[0].Value.Uint64() + samples[1].Value.Uint64()
		held := samples[2].Value.Uint64() - samples[3].Value.Uint64()
		h.mu.Lock()
		h.heap = max(h.heap, heap)
		h.held = max(h.held, held)
		h.mu.Unlock()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// dpkgPackage is one installed package of a dpkg status file.
type dpkgPackage struct{ Name, Version, Source, SourceVersion string }

// readDpkgStatus reads the installed packages of a dpkg status file.
func readDpkgStatus(path string) ([]dpkgPackage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []dpkgPackage
	fields := map[string]string{}
	flush := func() {
		if fields["Package"] != "" && fields["Version"] != "" && strings.HasSuffix(fields["Status"], " installed") {
			p := dpkgPackage{Name: fields["Package"], Version: fields["Version"], Source: fields["Package"], SourceVersion: fields["Version"]}
			if src := fields["Source"]; src != "" {
				name, ver, ok := strings.Cut(src, " (")
				p.Source = strings.TrimSpace(name)
				if ok {
					p.SourceVersion = strings.TrimSuffix(strings.TrimSpace(ver), ")")
				}
			}
			out = append(out, p)
		}
		clear(fields)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			// a continuation line (Description, Conffiles, ...)
		default:
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	flush()
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no installed package", path)
	}
	return out, nil
}

// largeAdvisories are advisories for the source packages of pkgs, in the
// "debian 12" bucket: one for every 5th source package (in name order),
// severities in turn CRITICAL, HIGH, MEDIUM, LOW; every other one fixed in
// a version above the installed one (<source version>+slipway1), the rest
// unfixed. Every advisory matches every binary package of its source.
func largeAdvisories(pkgs []dpkgPackage) []fixture.Advisory {
	srcVersion := map[string]string{}
	for _, p := range pkgs {
		srcVersion[p.Source] = p.SourceVersion
	}
	sources := make([]string, 0, len(srcVersion))
	for s := range srcVersion {
		sources = append(sources, s)
	}
	slices.Sort(sources)
	severities := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}
	var out []fixture.Advisory
	for i := 0; i < len(sources); i += 5 {
		n := len(out)
		src := sources[i]
		a := fixture.Advisory{
			ID: fmt.Sprintf("CVE-2099-%05d", 10000+n), OS: fixture.OSDebian, Release: "12", Package: src,
			Severity: severities[(n/2)%len(severities)],
			Title:    fmt.Sprintf("%s: made-up advisory %d of slipway's large-image benchmark", src, n),
			Description: fmt.Sprintf("A made-up advisory for the source package %s, so that the benchmark's scan matches real installed packages. "+
				"It has the length of a typical Debian security tracker description, which the JSON, SARIF and GitLab reports carry for every finding.", src),
		}
		if n%2 == 0 {
			a.Fixed = srcVersion[src] + "+slipway1"
		}
		out = append(out, a)
	}
	return out
}

type layerSizes struct{ compressed, uncompressed uint64 }

// rootfsLayout writes a single-layer linux/amd64 OCI image of the root
// filesystem at dir into an OCI layout under b.TempDir(): the layer is a
// gzip tarball of dir (symbolic and hard links kept, the contents of /proc,
// /sys and /dev left out, devices, FIFOs and sockets too).
func rootfsLayout(b *testing.B, dir string) (*pipeline.BuildResult, layerSizes) {
	b.Helper()
	layerPath := filepath.Join(b.TempDir(), "rootfs.tar.gz")
	uncompressed, err := writeRootfsTar(dir, layerPath)
	if err != nil {
		b.Fatal(err)
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(ggcrtypes.OCILayer))
	if err != nil {
		b.Fatal(err)
	}
	base := mutate.MediaType(empty.Image, ggcrtypes.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, ggcrtypes.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer, MediaType: ggcrtypes.OCILayer,
		History: v1.History{Created: v1.Time{Time: now}, CreatedBy: "debootstrap --variant=minbase bookworm"},
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		b.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: now}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.Config.Cmd = []string{"bash"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(layerPath)
	if err != nil {
		b.Fatal(err)
	}
	built := writeLayout(b, map[string]v1.Image{"linux/amd64": img})
	return built, layerSizes{compressed: uint64(fi.Size()), uncompressed: uncompressed}
}

// writeRootfsTar writes dir as a gzip tarball to path and returns the
// size of the tar stream.
func writeRootfsTar(dir, path string) (uint64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := gzip.NewWriter(bw)
	cw := &countingWriter{w: zw}
	tw := tar.NewWriter(cw)

	type inode struct{ dev, ino uint64 }
	links := map[inode]string{} // the first name of each hard-linked file
	skipContents := map[string]bool{"proc": true, "sys": true, "dev": true}

	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if top, _, nested := strings.Cut(rel, "/"); nested && skipContents[top] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch m := fi.Mode(); {
		case m&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		case m.IsDir(), m.IsRegular():
		default:
			return nil // devices, FIFOs, sockets
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, seen := links[key]; seen {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		_ = src.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("tarball of %s: %w", dir, err)
	}
	for _, c := range []io.Closer{tw, zw} {
		if err := c.Close(); err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}
