package ci

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// platformImages returns the platform images of the index ref, by
// platform, leaving out BuildKit's attestation manifests.
func platformImages(t *testing.T, ref string) map[string]v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Image{}
	for _, d := range m.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" || d.Platform == nil {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		p := d.Platform.String()
		p, _ = strings.CutSuffix(p, "/v8") // linux/arm64/v8 is linux/arm64
		out[p] = img
	}
	return out
}

// files lists every path of img's flattened file system (no leading /),
// with its type.
func files(t *testing.T, img v1.Image) map[string]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = h.Typeflag
	}
}

// compressedSize is what a pull of img downloads: its layers, config and
// manifest.
func compressedSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size + int64(len(raw))
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// The image is the product: for every platform it was built for, the
// three binaries, runc, git and CA certificates on Debian, slipway the
// entry point, run as root, with `run` as the default command; and nothing
// of the build (no Go toolchain, no module or build cache, no apt cache).
func TestImageContents(t *testing.T) {
	e := testenv.Get(t)
	img := e.SlipwayImage(t)
	images := platformImages(t, img.Ref)
	if len(images) != len(img.Platforms) {
		t.Errorf("the index has %d platform images, want %q", len(images), img.Platforms)
	}
	for _, p := range img.Platforms {
		pi, ok := images[p]
		if !ok {
			t.Errorf("no %s image in %s", p, img.Ref)
			continue
		}
		t.Run(strings.ReplaceAll(p, "/", "-"), func(t *testing.T) {
			cfg, err := pi.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Config.Entrypoint, " "); got != "/usr/local/bin/slipway" {
				t.Errorf("entrypoint %q", got)
			}
			if got := strings.Join(cfg.Config.Cmd, " "); got != "run" {
				t.Errorf("command %q, want run", got)
			}
			if cfg.Config.User != "root" {
				t.Errorf("user %q, want root (GitHub runs container actions as root)", cfg.Config.User)
			}
			fs := files(t, pi)
			for _, f := range []string{
				"usr/local/bin/slipway", "usr/local/bin/buildkitd", "usr/local/bin/buildctl",
				"usr/sbin/runc", "usr/bin/git", "etc/ssl/certs/ca-certificates.crt",
			} {
				if _, ok := fs[f]; !ok {
					t.Errorf("%s is missing", f)
				}
			}
			for f := range fs {
				for _, bad := range []string{"usr/local/go/", "go/pkg/mod/", "root/.cache/", "root/go/"} {
					if strings.HasPrefix(f+"/", bad) {
						t.Errorf("%s: the build's %s is in the image", f, bad)
					}
				}
				if strings.HasSuffix(f, "/bin/go") || strings.HasSuffix(f, "/bin/gofmt") {
					t.Errorf("%s: a Go toolchain is in the image", f)
				}
				// apt's caches and lists: what installing runc and git left.
				if (strings.HasPrefix(f, "var/cache/apt/") && (strings.HasSuffix(f, ".bin") || strings.HasSuffix(f, ".deb"))) ||
					(strings.HasPrefix(f, "var/lib/apt/lists/") && !strings.HasSuffix(f, "/lock") && !strings.HasSuffix(f, "/partial") && f != "var/lib/apt/lists") {
					t.Errorf("%s: apt's cache is in the image", f)
				}
			}
			t.Logf("%s: %d MB compressed", p, compressedSize(t, pi)>>20)
		})
	}
}

// The image runs on every platform it was built for (linux/arm64 through
// qemu here): `version` answers. Each platform's image is run by its own
// digest: Docker 20.10 keeps one image per reference, and refuses a second
// platform of an index by the same digest ("Cannot overwrite digest").
func TestImageRuns(t *testing.T) {
	e := testenv.Get(t)
	img := e.SlipwayImage(t)
	repo, _, _ := strings.Cut(img.Ref, "@")
	for p, pi := range platformImages(t, img.Ref) {
		d, err := pi.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out := docker(t, e, "run", "--rm", "--network", "host", "--platform", p, repo+"@"+d.String(), "version")
		if !strings.HasPrefix(out, "slipway ") {
			t.Errorf("%s: slipway version printed %q", p, out)
		}
	}
}

// The image is signed, and its SBOM and vulnerability report attested,
// with the key make image used: the cosign CLI verifies them.
func TestImageSignature(t *testing.T) {
	e := testenv.Get(t)
	img := e.SlipwayImage(t)
	if out, err := testenv.Cosign(t, keyVerifyArgs(t, "verify", img.PublicKey, img.Ref)...); err != nil {
		t.Errorf("cosign verify %s: %v\n%s", img.Ref, err, out)
	}
	for _, typ := range []string{"cyclonedx", "vuln"} {
		if out, err := testenv.Cosign(t, keyVerifyArgs(t, "verify-attestation", img.PublicKey, img.Ref, "--type", typ)...); err != nil {
			t.Errorf("cosign verify-attestation --type %s %s: %v\n%s", typ, img.Ref, err, out)
		}
	}
}

// The image reads a container action's inputs as GitHub's runner passes
// them, INPUT_<NAME> with the name's hyphens kept (INPUT_BUILD-ARGS),
// which no shell between the runtime and slipway may drop; and it reads
// the context of a checkout that another user owns, as a CI's workspace
// mounted into the container is.
func TestImageReadsActionInputs(t *testing.T) {
	e := testenv.Get(t)
	img := e.SlipwayImage(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	docker(t, e, "run", "--rm", "-v", dir+":/w", e.RunnerImage, "chown", "-R", "1000:1000", "/w")
	out := docker(t, e, "run", "--rm", "--network", "none", "-v", dir+":/src", "-w", "/src",
		"-e", "INPUT_IMAGES=registry.example.com/team/app",
		"-e", "INPUT_BUILD-ARGS=GREETING=from-an-input",
		"-e", "INPUT_CACHE-FROM=type=local,src=/tmp/cache",
		"-e", "INPUT_OUTPUT-DIR=/tmp/out",
		img.Ref, "run", "--dry-run", "--output", "json")
	var plan struct {
		CI struct {
			Provider string `json:"provider"`
			SHA      string `json:"sha"`
		} `json:"ci"`
		Build struct {
			BuildArgs []string `json:"build-args"`
			CacheFrom []string `json:"cache-from"`
		} `json:"build"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("the dry run's plan: %v\n%s", err, out)
	}
	if !slices.Equal(plan.Build.BuildArgs, []string{"GREETING=from-an-input"}) || !slices.Equal(plan.Build.CacheFrom, []string{"type=local,src=/tmp/cache"}) {
		t.Errorf("build-args %q, cache-from %q: the hyphenated inputs did not reach slipway", plan.Build.BuildArgs, plan.Build.CacheFrom)
	}
	if head := testenv.Git(t, dir, "-c", "safe.directory="+dir, "rev-parse", "HEAD"); plan.CI.Provider != "local" || plan.CI.SHA != head {
		t.Errorf("ci %+v, want the local checkout's HEAD %s", plan.CI, head)
	}
}
