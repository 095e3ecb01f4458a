// Command mkbase assembles a multi-platform base image from root file systems
// that are already on disk and pushes it to a registry. hack/testenv.sh uses
// it to put a busybox image, made offline from Debian's busybox-static
// packages, into the local test registry.
//
//	mkbase -registry 127.0.0.1:5000 -amd64 ./rootfs-amd64 -arm64 ./rootfs-arm64 \
//	       -repo base/busybox -tags latest,1.35
//
// The output is reproducible: files are written in name order, owned by
// root, with a fixed modification time, and the config carries a fixed
// creation time, so the same root file systems always give the same digests.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the modification time of every file and the creation time of the
// image: fixed, so that the digests do not change from one run to the next.
var epoch = time.Unix(0, 0).UTC()

type platformFlag struct {
	arch, variant string
	dir           *string
}

func main() {
	registry := flag.String("registry", "", "registry host:port to push to (plain HTTP is allowed)")
	repo := flag.String("repo", "base/busybox", "repository in the registry")
	tags := flag.String("tags", "latest", "comma-separated tags")
	cmd := flag.String("cmd", "sh", "the image's default command (split on spaces)")
	env := flag.String("env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "the image's environment (comma-separated KEY=value)")
	amd64 := flag.String("amd64", "", "root file system of the linux/amd64 image")
	arm64 := flag.String("arm64", "", "root file system of the linux/arm64 image")
	flag.Parse()

	if err := run(*registry, *repo, *tags, *cmd, *env, []platformFlag{
		{arch: "amd64", dir: amd64},
		{arch: "arm64", variant: "v8", dir: arm64},
	}); err != nil {
		fmt.Fprintln(os.Stderr, "mkbase:", err)
		os.Exit(1)
	}
}

func run(registry, repo, tagList, cmd, envList string, platforms []platformFlag) error {
	if registry == "" {
		return errors.New("-registry is required")
	}
	var tags []string
	for _, t := range strings.Split(tagList, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return errors.New("-tags names no tag")
	}

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		if *p.dir == "" {
			continue
		}
		img, err := image(*p.dir, p.arch, p.variant, strings.Fields(cmd), splitList(envList))
		if err != nil {
			return fmt.Errorf("linux/%s: %w", p.arch, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: "linux", Architecture: p.arch, Variant: p.variant},
			},
		})
	}
	if len(adds) == 0 {
		return errors.New("no root file system given (-amd64, -arm64)")
	}
	idx = mutate.AppendManifests(idx, adds...)

	opts := []remote.Option{remote.WithTransport(http.DefaultTransport)}
	r, err := name.NewRepository(registry+"/"+repo, name.Insecure)
	if err != nil {
		return err
	}
	first := r.Tag(tags[0])
	if err := remote.WriteIndex(first, idx, opts...); err != nil {
		return fmt.Errorf("push %s: %w", first, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s@%s\n", first, d)
	for _, t := range tags[1:] {
		tag := r.Tag(t)
		if err := remote.Tag(tag, idx, opts...); err != nil {
			return fmt.Errorf("tag %s: %w", tag, err)
		}
		fmt.Printf("%s@%s\n", tag, d)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// image makes a one-layer image of dir for linux/arch.
func image(dir, arch, variant string, cmd, env []string) (v1.Image, error) {
	layerTar, err := tarDir(dir)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: arch,
		Variant:      variant,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       v1.Config{Env: env, Cmd: cmd},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: epoch},
			CreatedBy: "slipway hack/testenv/mkbase",
			Comment:   "root file system from " + filepath.Base(dir),
		},
	})
}

// tarDir writes dir as an uncompressed tar, in name order, every entry owned
// by root and dated epoch. Regular files, directories and symbolic links are
// kept; anything else is an error.
func tarDir(dir string) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    int64(fi.Mode().Perm()),
			ModTime: epoch,
			Uname:   "root",
			Gname:   "root",
			Format:  tar.FormatPAX,
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		if fi.Mode()&fs.ModeSetuid != 0 {
			hdr.Mode |= 0o4000
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			hdr.Mode |= 0o2000
		}
		var body []byte
		switch {
		case fi.Mode().IsRegular():
			hdr.Typeflag = tar.TypeReg
			if body, err = os.ReadFile(p); err != nil {
				return nil, err
			}
			hdr.Size = int64(len(body))
		case fi.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case fi.Mode()&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: unsupported file type %s", p, fi.Mode().Type())
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
