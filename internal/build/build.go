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
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/solver/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/config"
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
	// Pusher pushes the result from the OCI layout by digest.
	Pusher Pusher
	// GHA is the GitHub Actions cache service, for type=gha caches.
	GHA config.GHACache
	// Progress receives BuildKit's progress display (stderr).
	Progress io.Writer
}

// Pusher pushes an image from an OCI layout to repositories by digest.
type Pusher interface {
	PushLayout(ctx context.Context, dir, digest string, repos []string) error
}

// Build builds the plan on BuildKit into an OCI layout under the output
// directory and, when the plan pushes, pushes it from there by digest (no
// tag) to every repository.
//
// BuildKit could push itself (push-by-digest=true, name-canonical=true),
// but a second exporter for the local layout then makes its own
// attestation manifests and so a different index digest from the pushed
// one. One export, pushed from the layout, makes the digest that is
// scanned and signed locally the digest in every registry.
func (s *Stage) Build(ctx context.Context, b *pipeline.BuildPlan, pub *pipeline.PublishPlan) (*pipeline.BuildResult, error) {
	start := time.Now()
	attrs, mounts, err := frontendAttrs(b)
	if err != nil {
		return nil, err
	}
	sess, err := attachables(s.Keychain, b.SecretSources(), b.SSH)
	if err != nil {
		return nil, err
	}
	from, to := b.CacheEntries()
	cacheFrom, err := cacheEntries(from, false, s.GHA)
	if err != nil {
		return nil, err
	}
	cacheTo, err := cacheEntries(to, true, s.GHA)
	if err != nil {
		return nil, err
	}
	// The layout is kept between runs: BuildKit sends only the blobs it
	// does not already hold, so an unchanged rebuild exports next to
	// nothing. index.json gains an entry per run; results are found by
	// digest.
	layout := filepath.Join(b.OutputDir, LayoutDir)
	index := len(b.Platforms) > 1 || attrs["attest:provenance"] != "" || attrs["attest:sbom"] != ""
	exports := []client.ExportEntry{layoutExporter(layout, annotationAttrs(b.Annotations, index))}

	conn, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   mounts,
		Exports:       exports,
		CacheImports:  cacheFrom,
		CacheExports:  cacheTo,
		Session:       sess,
	}
	var steps Steps
	ch := make(chan *client.SolveStatus)
	var resp *client.SolveResponse
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = conn.Client.Solve(egctx, nil, opt, ch)
		return err
	})
	eg.Go(func() error { return display(egctx, s.Progress, b.Progress, ch, &steps) })
	if err := eg.Wait(); err != nil {
		return nil, describeSolveError(b, conn, err)
	}
	res, err := s.result(b, pub, layout, resp.ExporterResponse, &steps)
	if err != nil {
		return nil, err
	}
	if repo := pub.Primary(); repo != "" {
		if err := s.Pusher.PushLayout(ctx, layout, res.Digest, []string{repo}); err != nil {
			return nil, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// layoutExporter writes the result as an OCI layout directory.
func layoutExporter(layout string, annotations map[string]string) client.ExportEntry {
	attrs := map[string]string{"tar": "false", "oci-mediatypes": "true"}
	maps.Copy(attrs, annotations)
	return client.ExportEntry{Type: client.ExporterOCI, Attrs: attrs, OutputDir: layout}
}

// result turns BuildKit's exporter response into the stage result and
// writes the metadata file, as buildx's --metadata-file.
func (s *Stage) result(b *pipeline.BuildPlan, pub *pipeline.PublishPlan, layout string, er map[string]string, steps *Steps) (*pipeline.BuildResult, error) {
	dgst := er[exptypes.ExporterImageDigestKey]
	if dgst == "" {
		return nil, errors.New("BuildKit returned no image digest")
	}
	md := map[string]any{exptypes.ExporterImageDigestKey: dgst}
	if v := er[exptypes.ExporterImageDescriptorKey]; v != "" {
		if raw, err := base64.StdEncoding.DecodeString(v); err == nil {
			md[exptypes.ExporterImageDescriptorKey] = json.RawMessage(raw)
		}
	}
	if repo := pub.Primary(); repo != "" {
		md[exptypes.ExporterImageNameKey] = repo + "@" + dgst
	}
	platforms, err := platformImages(layout, dgst)
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
		Digest: dgst, Platforms: platforms, LayoutDir: layout, Metadata: md,
		Steps: steps.Total, CachedSteps: steps.Cached,
	}, nil
}

// describeSolveError names the builder and, for a Dockerfile error, the
// file and line.
func describeSolveError(b *pipeline.BuildPlan, conn *Connection, err error) error {
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
	return fmt.Errorf("building %s on %s: %w", b.File, conn.Name, err)
}
