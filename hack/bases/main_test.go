package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type entry struct {
	name, link string
	typ        byte
	mode       int64
	uid        int
	body       string
}

func readTar(t *testing.T, r io.Reader) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = entry{name: h.Name, link: h.Linkname, typ: h.Typeflag, mode: h.Mode, uid: h.Uid, body: string(body)}
	}
}

func writeTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Size: int64(len(e.body))}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mmdebstrap's tarballs name entries ./x, carry device nodes under ./dev and
// the host's resolv.conf: the layer has none of these, and keeps owners,
// modes and links.
func TestRootFS(t *testing.T) {
	in := writeTar(t, []entry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin", typ: tar.TypeSymlink, link: "usr/bin", mode: 0o777},
		{name: "./dev/", typ: tar.TypeDir, mode: 0o755},
		{name: "./dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "./dev/fd", typ: tar.TypeSymlink, link: "/proc/self/fd", mode: 0o777},
		{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "./etc/resolv.conf", typ: tar.TypeReg, mode: 0o644, body: "nameserver 10.0.0.1\n"},
		{name: "./etc/hostname", typ: tar.TypeReg, mode: 0o644, body: "builder\n"},
		{name: "./etc/shadow", typ: tar.TypeReg, mode: 0o640, uid: 0, body: "root:*::0:99999:7:::\n"},
		{name: "./usr/bin/perl", typ: tar.TypeReg, mode: 0o755, body: "ELF"},
		{name: "./usr/bin/perl5.40.1", typ: tar.TypeLink, link: "./usr/bin/perl", mode: 0o755},
		{name: "./var/mail/", typ: tar.TypeDir, mode: 0o2775, uid: 8},
	})
	var out bytes.Buffer
	if err := rootFS(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := readTar(t, &out)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"bin", "dev/", "etc/", "etc/shadow", "usr/bin/perl", "usr/bin/perl5.40.1", "var/mail/"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	if e := got["usr/bin/perl5.40.1"]; e.typ != tar.TypeLink || e.link != "usr/bin/perl" {
		t.Errorf("hard link %+v, want one to usr/bin/perl", e)
	}
	if e := got["bin"]; e.link != "usr/bin" {
		t.Errorf("symlink %+v", e)
	}
	if e := got["var/mail/"]; e.mode != 0o2775 || e.uid != 8 {
		t.Errorf("var/mail/ mode %o uid %d, want 2775 and 8", e.mode, e.uid)
	}
}

// fakeToolchain writes a module zip shaped as golang.org/toolchain's.
func fakeToolchain(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "toolchain.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	prefix := "golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64/"
	for n, body := range map[string]string{
		"VERSION": "go1.99.1\n", "bin/go": "go", "bin/gofmt": "gofmt",
		"pkg/tool/linux_amd64/compile": "compile", "lib/wasm/go_js_wasm_exec": "#!/bin/sh",
		"lib/wasm/wasm_exec.js": "js", "src/_go.mod": "module std\n", "src/cmd/_go.mod": "module cmd\n",
		"src/fmt/print.go": "package fmt\n",
	} {
		w, err := zw.Create(prefix + n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// The toolchain is laid out as the go command lays out one it downloads.
func TestGoToolchain(t *testing.T) {
	zipPath := fakeToolchain(t, t.TempDir())
	var out bytes.Buffer
	if err := goToolchain(zipPath, &out); err != nil {
		t.Fatal(err)
	}
	got := readTar(t, &out)
	for n, mode := range map[string]int64{
		"usr/local/go/bin/go": 0o755, "usr/local/go/bin/gofmt": 0o755,
		"usr/local/go/pkg/tool/linux_amd64/compile": 0o755, "usr/local/go/lib/wasm/go_js_wasm_exec": 0o755,
		"usr/local/go/lib/wasm/wasm_exec.js": 0o644, "usr/local/go/VERSION": 0o644,
		"usr/local/go/src/go.mod": 0o644, "usr/local/go/src/_go.mod": 0o644, "usr/local/go/src/cmd/go.mod": 0o644,
		"usr/local/go/src/fmt/print.go": 0o644, "usr/": 0o755, "usr/local/go/pkg/tool/": 0o755,
		"go/": 0o1777, "go/bin/": 0o1777, "go/src/": 0o1777,
	} {
		e, ok := got[n]
		if !ok {
			t.Errorf("%s is missing", n)
			continue
		}
		if e.mode != mode {
			t.Errorf("%s: mode %o, want %o", n, e.mode, mode)
		}
	}
	if b := got["usr/local/go/src/cmd/go.mod"].body; b != "module cmd\n" {
		t.Errorf("src/cmd/go.mod = %q", b)
	}
	// Every file's directory comes before it.
	seen := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(out.Bytes()))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := filepath.Dir(strings.TrimSuffix(h.Name, "/")); d != "." && !seen[d] {
			t.Errorf("%s comes before its directory %s", h.Name, d)
		}
		seen[strings.TrimSuffix(h.Name, "/")] = true
	}
}

func TestNewSpec(t *testing.T) {
	for _, c := range []struct {
		name, goVersion string
		rootfs, goZips  map[string]string
		want            string
	}{
		{"golang", "", map[string]string{"linux/amd64": "a"}, nil, "want an image name with a tag"},
		{"r.io/golang:1", "", map[string]string{"linux/amd64": "a"}, nil, "no registry"},
		{"debian:trixie-slim", "", nil, nil, "no -rootfs"},
		{"golang:1-x", "", map[string]string{"linux/amd64": "a"}, map[string]string{"linux/amd64": "z"}, "needs -go-version"},
		{"golang:1-x", "1.2", map[string]string{"linux/amd64": "a", "linux/arm64": "b"}, map[string]string{"linux/amd64": "z"}, "no zip for linux/arm64"},
		{"debian:x", "", map[string]string{"windows/amd64": "a"}, nil, "only linux"},
	} {
		if _, err := newSpec(c.name, c.goVersion, c.rootfs, c.goZips); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("newSpec(%q, %v, %v): %v, want %q", c.name, c.rootfs, c.goZips, err, c.want)
		}
	}
	s, err := newSpec("debian:x-slim", "", map[string]string{"linux/arm64": "b", "linux/amd64": "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Platforms) != 2 || s.Platforms[0].Platform.String() != "linux/amd64" || s.Platforms[1].Platform.String() != "linux/arm64/v8" {
		t.Errorf("platforms %+v, want linux/amd64 and linux/arm64/v8", s.Platforms)
	}
}

// The golang image, assembled and pushed, is what the official one is
// to the Dockerfile: Go at /usr/local/go on the PATH, GOPATH /go; a second
// run takes it from the cache, and gives the same digest.
func TestRunAssemblesAndCaches(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(rootfs, writeTar(t, []entry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "./etc/debian_version", typ: tar.TypeReg, mode: 0o644, body: "13.2\n"},
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := newSpec("golang:1.99-trixie", "1.99.1", map[string]string{"linux/amd64": rootfs}, map[string]string{"linux/amd64": fakeToolchain(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	var log bytes.Buffer
	first, err := run(s, reg, cache, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, reg+"/bases/golang:1.99-trixie@sha256:") {
		t.Fatalf("reference %q", first)
	}
	if !strings.Contains(log.String(), "assembling golang:1.99-trixie") {
		t.Errorf("log: %s", log.String())
	}
	ref, err := name.ParseReference(first, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Platform.String() != "linux/amd64" {
		t.Fatalf("index %+v", m.Manifests)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.WorkingDir != "/go" || !slices.Contains(cfg.Config.Env, "GOPATH=/go") ||
		!slices.Contains(cfg.Config.Env, "PATH=/go/bin:/usr/local/go/bin:"+debianPath) || !slices.Contains(cfg.Config.Env, "GOLANG_VERSION=1.99.1") {
		t.Errorf("config %+v", cfg.Config)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers (%v), want the root file system and Go", len(layers), err)
	}
	rc, err := layers[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if e := readTar(t, rc)["usr/local/go/bin/go"]; e.mode != 0o755 {
		t.Errorf("bin/go in the image: %+v", e)
	}

	log.Reset()
	second, err := run(s, reg, cache, &log)
	if err != nil {
		t.Fatal(err)
	}
	if second != first || strings.Contains(log.String(), "assembling") {
		t.Errorf("second run: %s (%s), want %s from the cache", second, log.String(), first)
	}
	layouts, _ := filepath.Glob(filepath.Join(cache, "*"))
	if len(layouts) != 1 {
		t.Errorf("cache holds %q, want one layout", layouts)
	}

	// A changed input is assembled anew, and the outdated layout goes.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(rootfs, later, later); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	if _, err := run(s, reg, cache, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "assembling") {
		t.Errorf("a changed root file system was not assembled anew: %s", log.String())
	}
	if now, _ := filepath.Glob(filepath.Join(cache, "*")); len(now) != 1 || slices.Contains(now, layouts[0]) {
		t.Errorf("cache holds %q, want only the new layout", now)
	}
}
