// Command bases assembles the base images that the repository's Dockerfile
// names (golang:<go>-<debian>, debian:<debian>-slim) from what this machine
// reaches, and pushes them to a registry: Debian root file systems that
// hack/bases.sh made with mmdebstrap, and the Go toolchain as the Go module
// proxy serves it (golang.org/toolchain@v0.0.1-go<version>.linux-<arch>).
// `make image` hands them to the build as named contexts, so the Dockerfile
// stays the standard file a user builds elsewhere.
//
//	bases -registry 127.0.0.1:5000 -cache ~/.cache/slipway/bases -name debian:trixie-slim \
//	      -rootfs linux/amd64=debian-amd64.tar -rootfs linux/arm64=debian-arm64.tar
//	bases -registry 127.0.0.1:5000 -cache ~/.cache/slipway/bases -name golang:1.26-trixie \
//	      -rootfs linux/amd64=golang-amd64.tar -go linux/amd64=toolchain.zip -go-version 1.26.8
//
// It prints the named context on stdout:
//
//	golang:1.26-trixie=docker-image://127.0.0.1:5000/bases/golang:1.26-trixie@sha256:…
//
// An assembled image is kept as an OCI layout under -cache, keyed by its
// inputs: a second run with the same inputs compresses nothing and only
// pushes what the registry lacks.
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layoutVersion changes when the way images are assembled changes, so that
// cached layouts of an older way are not reused.
const layoutVersion = "bases/v2"

// epoch dates the image configs and the files this program writes, so that
// the same inputs always give the same digests.
var epoch = time.Unix(0, 0).UTC()

const debianPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// spec is one image to assemble: a name such as golang:1.26-trixie, and per
// platform a root file system tarball and, for a Go image, a toolchain zip.
type spec struct {
	Name      string
	GoVersion string // "" for an image without Go
	Platforms []platformInputs
}

type platformInputs struct {
	Platform v1.Platform
	RootFS   string // tarball (mmdebstrap's output)
	GoZip    string // the golang.org/toolchain module zip, or ""
}

// multiFlag collects repeated PLATFORM=PATH flags.
type multiFlag map[string]string

func (m multiFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m multiFlag) Set(s string) error {
	p, file, ok := strings.Cut(s, "=")
	if !ok || p == "" || file == "" {
		return fmt.Errorf("%q: want PLATFORM=PATH", s)
	}
	m[p] = file
	return nil
}

func main() {
	registry := flag.String("registry", "", "registry host:port to push to (plain HTTP on loopback)")
	cache := flag.String("cache", "", "directory of the assembled images (OCI layouts), kept across runs")
	imageName := flag.String("name", "", "the base image's name in the Dockerfile, e.g. debian:trixie-slim")
	goVersion := flag.String("go-version", "", "the Go version of the -go zips (e.g. 1.26.8)")
	rootfs, goZips := multiFlag{}, multiFlag{}
	flag.Var(rootfs, "rootfs", "PLATFORM=TARBALL: the root file system of one platform (repeat)")
	flag.Var(goZips, "go", "PLATFORM=ZIP: the Go toolchain module zip of one platform (repeat)")
	flag.Parse()

	s, err := newSpec(*imageName, *goVersion, rootfs, goZips)
	if err == nil && (*registry == "" || *cache == "") {
		err = errors.New("-registry and -cache are required")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bases:", err)
		os.Exit(2)
	}
	ref, err := run(s, *registry, *cache, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bases:", err)
		os.Exit(1)
	}
	fmt.Printf("%s=docker-image://%s\n", s.Name, ref)
}

func newSpec(imageName, goVersion string, rootfs, goZips map[string]string) (spec, error) {
	if imageName == "" || strings.ContainsAny(imageName, "/@") || !strings.Contains(imageName, ":") {
		return spec{}, fmt.Errorf("-name %q: want an image name with a tag and no registry, such as debian:trixie-slim", imageName)
	}
	if len(goZips) > 0 && goVersion == "" {
		return spec{}, errors.New("-go needs -go-version")
	}
	if len(rootfs) == 0 {
		return spec{}, errors.New("no -rootfs given")
	}
	s := spec{Name: imageName}
	if len(goZips) > 0 {
		s.GoVersion = goVersion
	}
	keys := make([]string, 0, len(rootfs))
	for k := range rootfs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, err := v1.ParsePlatform(k)
		if err != nil {
			return spec{}, fmt.Errorf("-rootfs %s: %w", k, err)
		}
		if p.OS != "linux" {
			return spec{}, fmt.Errorf("-rootfs %s: only linux platforms", k)
		}
		if p.Architecture == "arm64" && p.Variant == "" {
			p.Variant = "v8" // as Docker's official images name it
		}
		in := platformInputs{Platform: *p, RootFS: rootfs[k]}
		if len(goZips) > 0 {
			if in.GoZip = goZips[k]; in.GoZip == "" {
				return spec{}, fmt.Errorf("-go has no zip for %s", k)
			}
		}
		s.Platforms = append(s.Platforms, in)
	}
	for k := range goZips {
		if rootfs[k] == "" {
			return spec{}, fmt.Errorf("-go %s has no -rootfs", k)
		}
	}
	return s, nil
}

// run assembles s (or takes it from the cache) and pushes it to
// registry/bases/<name>; it returns the pushed reference, by tag and digest.
func run(s spec, registry, cache string, log io.Writer) (string, error) {
	repo, tag, _ := strings.Cut(s.Name, ":")
	r, err := name.NewRepository(registry+"/bases/"+repo, name.Insecure)
	if err != nil {
		return "", err
	}
	ref := r.Tag(tag)
	key, err := s.key()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, safeName(s.Name)+"-"+key[:16])
	idx, err := cached(dir)
	if err != nil {
		return "", err
	}
	if idx == nil {
		fmt.Fprintf(log, "bases: assembling %s for %d platform(s) into %s\n", s.Name, len(s.Platforms), dir)
		if idx, err = assemble(s, dir); err != nil {
			return "", fmt.Errorf("assembling %s: %w", s.Name, err)
		}
		prune(cache, safeName(s.Name), dir, log)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithJobs(4)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s@%s", ref, d), nil // by tag and digest, for a person and for docker
}

// key identifies s's inputs: their paths, sizes and modification times.
func (s spec) key() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", layoutVersion, s.Name, s.GoVersion)
	for _, p := range s.Platforms {
		fmt.Fprintf(h, "%s\n", p.Platform.String())
		for _, f := range []string{p.RootFS, p.GoZip} {
			if f == "" {
				continue
			}
			fi, err := os.Stat(f)
			if err != nil {
				return "", err
			}
			abs, err := filepath.Abs(f)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d %d\n", abs, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// cached returns the index kept in the layout dir, or nil when there is none.
func cached(dir string) (v1.ImageIndex, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := root.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d images in the layout, want 1", dir, len(m.Manifests))
	}
	return root.ImageIndex(m.Manifests[0].Digest)
}

// prune removes the layouts of name other than keep.
func prune(cache, name, keep string, log io.Writer) {
	old, _ := filepath.Glob(filepath.Join(cache, name+"-*"))
	for _, d := range old {
		if d != keep && len(filepath.Base(d)) == len(name)+17 {
			fmt.Fprintf(log, "bases: removing the outdated %s\n", d)
			_ = os.RemoveAll(d)
		}
	}
}

// assemble builds s and writes it as the one image of an OCI layout in dir.
func assemble(s spec, dir string) (v1.ImageIndex, error) {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, in := range s.Platforms {
		img, err := image(s, in, tmp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Platform.String(), err)
		}
		pl := in.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	// The layout holds compressed blobs: pushes read them as they are.
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": s.Name})); err != nil {
		return nil, err
	}
	tars, _ := filepath.Glob(filepath.Join(tmp, "*.tar"))
	for _, f := range tars {
		_ = os.Remove(f)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return cached(dir)
}

// image is one platform's image: the root file system, and the Go
// toolchain with the golang image's GOPATH when s has Go.
func image(s spec, in platformInputs, scratch string) (v1.Image, error) {
	// Layers read their file when the layout is written: one file each.
	prefix := filepath.Join(scratch, in.Platform.Architecture+"-")
	rootfs, err := layerFile(prefix+"rootfs.tar", func(w io.Writer) error {
		f, err := os.Open(in.RootFS)
		if err != nil {
			return err
		}
		defer f.Close()
		return rootFS(f, w)
	})
	if err != nil {
		return nil, fmt.Errorf("root file system %s: %w", in.RootFS, err)
	}
	cfg := v1.Config{Env: []string{"PATH=" + debianPath}, Cmd: []string{"bash"}}
	adds := []mutate.Addendum{{Layer: rootfs, History: history("root file system from " + filepath.Base(in.RootFS))}}
	if in.GoZip != "" {
		goLayer, err := layerFile(prefix+"go.tar", func(w io.Writer) error {
			return goToolchain(in.GoZip, w)
		})
		if err != nil {
			return nil, fmt.Errorf("the Go toolchain %s: %w", in.GoZip, err)
		}
		adds = append(adds, mutate.Addendum{Layer: goLayer, History: history("Go " + s.GoVersion + " from " + filepath.Base(in.GoZip) + " at /usr/local/go, GOPATH /go")})
		// What the official golang image sets.
		cfg.Env = []string{
			"PATH=/go/bin:/usr/local/go/bin:" + debianPath,
			"GOLANG_VERSION=" + s.GoVersion,
			"GOTOOLCHAIN=local",
			"GOPATH=/go",
		}
		cfg.WorkingDir = "/go"
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: in.Platform.Architecture,
		Variant:      in.Platform.Variant,
		OS:           in.Platform.OS,
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config:       cfg,
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, adds...)
}

func history(comment string) v1.History {
	return v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "slipway hack/bases", Comment: comment}
}

// layerFile writes an uncompressed tar to path with write, and returns it
// as a gzip-compressed OCI layer read from there.
func layerFile(path string, write func(io.Writer) error) (v1.Layer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := write(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestSpeed))
}

// dropped are the paths of a bootstrapped root file system that an image
// must not carry: the container runtime provides them.
var dropped = map[string]bool{"etc/resolv.conf": true, "etc/hostname": true}

// rootFS copies a root file system tarball (mmdebstrap's: ./-prefixed
// names, device nodes under ./dev) into an image layer: names without the
// ./ prefix, no device nodes (the runtime mounts /dev), no resolv.conf or
// hostname. Owners, modes, links and times are kept.
func rootFS(r io.Reader, w io.Writer) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		clean := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if clean == "" || dropped[clean] {
			continue
		}
		if strings.HasPrefix(clean, "dev/") || h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock || h.Typeflag == tar.TypeFifo {
			continue
		}
		h.Name = clean
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// goToolchain writes the Go toolchain of a golang.org/toolchain module zip
// at usr/local/go, made runnable as the go command makes a toolchain it
// downloads (cmd/go/internal/toolchain): executable bits on pkg/tool, the
// go_*_*_exec wrappers of lib and bin, and every _go.mod also as go.mod.
// It adds the golang image's GOPATH, /go with src and bin, mode 1777.
func goToolchain(zipPath string, w io.Writer) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	files := make([]*zip.File, 0, len(zr.File))
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })

	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	dir := func(p string, mode int64) error {
		if dirs[p] {
			return nil
		}
		dirs[p] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX})
	}
	var parents func(p string) error
	parents = func(p string) error {
		d := path.Dir(p)
		if d == "." || dirs[d] {
			return nil
		}
		if err := parents(d); err != nil {
			return err
		}
		return dir(d, 0o755)
	}
	for _, p := range []string{"go", "go/bin", "go/src"} {
		if err := dir(p, 0o1777); err != nil {
			return err
		}
	}
	for _, f := range files {
		// golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64/bin/go
		_, version, _ := strings.Cut(f.Name, "@")
		_, rel, ok := strings.Cut(version, "/")
		if !ok || rel == "" {
			return fmt.Errorf("%s: unexpected entry %q", zipPath, f.Name)
		}
		names := []string{rel}
		if path.Base(rel) == "_go.mod" {
			names = append(names, path.Join(path.Dir(rel), "go.mod"))
		}
		for _, n := range names {
			if err := copyZipFile(tw, f, "usr/local/go/"+n, goExecutable(rel), parents); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// goExecutable tells whether the toolchain file rel (relative to GOROOT)
// must be executable.
func goExecutable(rel string) bool {
	switch {
	case strings.HasPrefix(rel, "bin/"), strings.HasPrefix(rel, "pkg/tool/"):
		return true
	case strings.HasPrefix(rel, "lib/"):
		ok, _ := path.Match("go_?*_?*_exec", path.Base(rel))
		return ok
	}
	return false
}

func copyZipFile(tw *tar.Writer, f *zip.File, dst string, exec bool, parents func(string) error) error {
	if err := parents(dst); err != nil {
		return err
	}
	mode := int64(0o644)
	if exec {
		mode = 0o755
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: dst, Mode: mode, Size: int64(f.UncompressedSize64),
		ModTime: epoch, Format: tar.FormatPAX,
	}); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(tw, rc)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	if n != int64(f.UncompressedSize64) {
		return fmt.Errorf("%s: read %d bytes, want %d", f.Name, n, f.UncompressedSize64)
	}
	return nil
}
