package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// LayoutDir and MetadataFile are where a build leaves its results under
// the output directory.
const (
	LayoutDir    = "oci"
	MetadataFile = "build-metadata.json"
)

// Stage is the build stage: it implements pipeline.Builder.
type Stage struct {
	// Connect returns the builder to use; Selection.Connect by default.
	Connect func(context.Context) (*Connection, error)
	// Keychain logs BuildKit in to registries (base images, cache).
	Keychain authn.Keychain
	// Pusher pushes the result from the OCI layout by digest, starting
	// while BuildKit is still exporting it.
	Pusher Pusher
	// GHA is the GitHub Actions cache service, for type=gha caches.
	GHA GHACache
	// Progress receives BuildKit's progress display (stderr).
	Progress io.Writer
	// ConnectNode connects to one node of a build on several; nil means
	// its address, with its mTLS files.
	ConnectNode func(context.Context, attrs.BuilderNode) (*Connection, error)
}

// GHACache is what BuildKit's GitHub Actions cache backend needs, from
// the runner's environment.
type GHACache struct {
	URL   string // ACTIONS_CACHE_URL (cache service v1)
	URLv2 string // ACTIONS_RESULTS_URL (v2)
	Token string // ACTIONS_RUNTIME_TOKEN
}

// Pusher pushes an image from an OCI layout to a repository by digest.
type Pusher interface {
	// StartUpload begins the push to repo from the layout at dir.
	StartUpload(ctx context.Context, dir string, repo name.Repository) (Upload, error)
}

// Upload is one push under way: Blob uploads a blob of the layout now,
// Finish pushes the image with digest once the build is done (the blobs
// left, then the manifests), Abort gives up.
type Upload interface {
	Blob(h v1.Hash)
	Finish(ctx context.Context, h v1.Hash) error
	Abort()
}

// Build builds the plan on BuildKit into an OCI layout under the output
// directory and, when the plan pushes, pushes it from there by digest (no
// tag) to the first repository; the copies to the others wait until the
// image has passed the scan and is signed. The push overlaps the export:
// each blob goes up as soon as BuildKit has put it in the layout, so only
// the manifest PUTs wait for the end of the build.
//
// BuildKit could push itself, in the same build (a second exporter,
// type=image with push-by-digest=true, name-canonical=true; given the
// layout exporter's name too, both make the same index digest, as the
// name goes into the provenance's subject). But BuildKit pushes in the
// image exporter's finalize step, once every exporter is done, so after
// the layout: slower (bench/README.md). Pushing from the layout while it
// is written keeps one export, whose digest is the one scanned and signed
// locally and the one in every registry.
func (s *Stage) Build(ctx context.Context, b *pipeline.BuildPlan, pub *pipeline.PublishPlan) (*pipeline.BuildResult, error) {
	b = s.withBase(ctx, b)
	if len(b.Nodes) > 0 {
		return s.buildOnNodes(ctx, b, pub)
	}
	start := time.Now()
	kv, mounts, err := frontendAttrs(b)
	if err != nil {
		return nil, err
	}
	sess, err := attachables(s.Keychain, b.Secrets, b.SSH)
	if err != nil {
		return nil, err
	}
	cacheFrom, err := cacheEntries(b.CacheFrom, false, s.GHA)
	if err != nil {
		return nil, err
	}
	cacheTo, err := cacheEntries(b.CacheTo, true, s.GHA)
	if err != nil {
		return nil, err
	}
	// The layout is kept between runs: BuildKit sends only the blobs it
	// does not already hold, so an unchanged rebuild exports next to
	// nothing. index.json gains an entry per run; results are found by
	// digest.
	layout := filepath.Join(b.OutputDir, LayoutDir)
	index := len(b.Platforms) > 1 || kv["attest:provenance"] != "" || kv["attest:sbom"] != ""

	conn, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	onBlob := func(digest.Digest) {}
	var up Upload
	if repo, push := pub.Primary(); push {
		if up, err = s.Pusher.StartUpload(ctx, layout, repo); err != nil {
			return nil, err
		}
		defer up.Abort() // after Finish: nothing left to stop
		onBlob = func(d digest.Digest) { up.Blob(v1.Hash{Algorithm: d.Algorithm().String(), Hex: d.Encoded()}) }
	}
	store, err := layoutStore(layout, onBlob)
	if err != nil {
		return nil, err
	}
	// The outputs entries first, the layout last: BuildKit merges the
	// exporters' responses in order, and the image digest must be the
	// layout's (a docker exporter's differs).
	exports, err := outputExporters(b.Outputs)
	if err != nil {
		return nil, err
	}
	exports = append(exports, layoutExporter(store, annotationAttrs(b.Annotations, index)))

	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: kv,
		LocalMounts:   mounts,
		Exports:       exports,
		CacheImports:  cacheFrom,
		CacheExports:  cacheTo,
		Session:       sess,
		// What the build asks the builder to grant (allow; network:
		// host); a builder that does not permit it refuses the solve.
		AllowedEntitlements: b.Run.Entitlements,
	}
	resp, steps, err := solve(ctx, conn, opt, s.Progress, b.Progress)
	if err != nil {
		return nil, describeSolveError(b, conn, err)
	}
	res, err := s.result(b, pub, layout, resp.ExporterResponse, steps)
	if err != nil {
		return nil, err
	}
	if up != nil {
		if err := up.Finish(ctx, res.Digest); err != nil {
			return nil, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// solve runs opt on conn, showing its progress on w in mode, and counts
// the steps.
func solve(ctx context.Context, conn *Connection, opt client.SolveOpt, w io.Writer, mode string) (*client.SolveResponse, *Steps, error) {
	return watch(ctx, w, mode, func(ctx context.Context, ch chan *client.SolveStatus) (*client.SolveResponse, error) {
		return conn.Client.Solve(ctx, nil, opt, ch)
	})
}

// watch runs a solve, showing its progress on w in mode, and counts the
// steps.
func watch(ctx context.Context, w io.Writer, mode string, run func(context.Context, chan *client.SolveStatus) (*client.SolveResponse, error)) (*client.SolveResponse, *Steps, error) {
	var steps Steps
	ch := make(chan *client.SolveStatus)
	var resp *client.SolveResponse
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = run(egctx, ch)
		return err
	})
	eg.Go(func() error { return display(egctx, w, mode, ch, &steps) })
	if err := eg.Wait(); err != nil {
		return nil, nil, err
	}
	return resp, &steps, nil
}

// outputExporters are the exporters of the outputs entries: BuildKit's
// local exporter into its directory, the tar, oci and docker exporters
// into their file.
func outputExporters(outs []attrs.Output) ([]client.ExportEntry, error) {
	var es []client.ExportEntry
	for _, o := range outs {
		e := client.ExportEntry{Type: o.Type, Attrs: maps.Clone(o.Attrs)}
		if e.Attrs == nil {
			e.Attrs = map[string]string{}
		}
		switch o.Type {
		case attrs.OutputLocal:
			if err := os.MkdirAll(o.Dest, 0o755); err != nil {
				return nil, fmt.Errorf("creating the outputs directory %s: %w", o.Dest, err)
			}
			e.OutputDir = o.Dest
		default:
			if err := os.MkdirAll(filepath.Dir(o.Dest), 0o755); err != nil {
				return nil, fmt.Errorf("creating the directory of the outputs file %s: %w", o.Dest, err)
			}
			dest := o.Dest
			e.Output = func(map[string]string) (io.WriteCloser, error) {
				f, err := os.Create(dest)
				if err != nil {
					return nil, fmt.Errorf("creating the outputs file: %w", err)
				}
				return f, nil
			}
		}
		es = append(es, e)
	}
	return es, nil
}

// layoutExporter writes the result into the OCI layout's content store.
func layoutExporter(store content.Store, annotations map[string]string) client.ExportEntry {
	kv := map[string]string{"tar": "false", "oci-mediatypes": "true"}
	maps.Copy(kv, annotations)
	return client.ExportEntry{Type: client.ExporterOCI, Attrs: kv, OutputStore: store}
}

// result turns BuildKit's exporter response into the stage result: it
// records the image in the layout's index.json and writes the metadata
// file, as buildx's --metadata-file.
func (s *Stage) result(b *pipeline.BuildPlan, pub *pipeline.PublishPlan, layout string, er map[string]string, steps *Steps) (*pipeline.BuildResult, error) {
	dgst := er[exptypes.ExporterImageDigestKey]
	if dgst == "" {
		return nil, errors.New("BuildKit returned no image digest")
	}
	h, err := v1.NewHash(dgst)
	if err != nil {
		return nil, fmt.Errorf("BuildKit's image digest: %w", err)
	}
	desc, err := base64.StdEncoding.DecodeString(er[exptypes.ExporterImageDescriptorKey])
	if err != nil {
		return nil, fmt.Errorf("BuildKit's image descriptor: %w", err)
	}
	if err := recordInLayout(layout, desc); err != nil {
		return nil, err
	}
	md := map[string]any{
		exptypes.ExporterImageDigestKey:     dgst,
		exptypes.ExporterImageDescriptorKey: json.RawMessage(desc),
	}
	if repo, push := pub.Primary(); push {
		md[exptypes.ExporterImageNameKey] = repo.Digest(h.String()).String()
	}
	platforms, err := platformImages(layout, h)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(b.OutputDir, MetadataFile), append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("writing the build metadata: %w", err)
	}
	return &pipeline.BuildResult{
		Digest: h, Platforms: platforms, LayoutDir: layout, Metadata: md,
		Steps: steps.Total, CachedSteps: steps.Cached,
	}, nil
}

// describeSolveError names the builder and, for a Dockerfile error, the
// file and line.
func describeSolveError(b *pipeline.BuildPlan, conn *Connection, err error) error {
	if fe := dockerfileError(b, err); fe != nil {
		return fe
	}
	if m := notGranted.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("building %s on %s: the builder does not permit the entitlement %s that allow (or network: host) asks for: "+
			"start buildkitd with --allow-insecure-entitlement=%s (or insecure-entitlements in buildkitd.toml) for builder/BUILDKIT_HOST; "+
			"slipway's embedded buildkitd and the BuildKit container it starts through the Docker Engine permit network.host: %w", b.File, conn.Name, m[1], m[1], err)
	}
	return fmt.Errorf("building %s on %s: %w", b.File, conn.Name, err)
}

// notGranted is BuildKit's refusal of an entitlement its daemon does not
// permit (util/entitlements WhiteList).
var notGranted = regexp.MustCompile(`granting entitlement (\S+) is not allowed by build daemon configuration`)

// dockerfileError is err with the file and line of the Dockerfile
// instruction that failed; nil when err names none.
func dockerfileError(b *pipeline.BuildPlan, err error) error {
	for _, src := range errdefs.Sources(err) {
		if src.Info == nil || len(src.Ranges) == 0 || src.Ranges[0].Start == nil {
			continue
		}
		file := src.Info.Filename
		if file == "" || file == filepath.Base(b.File) {
			file = b.File
		}
		return fmt.Errorf("%s:%d: %w", file, src.Ranges[0].Start.Line, err)
	}
	return nil
}
