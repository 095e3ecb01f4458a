package build

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/opencontainers/go-digest"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/attrs"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/ocilayout"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// buildOnNodes builds the plan on several BuildKit nodes at once, each
// solving its platforms natively, all exporting into the one OCI layout
// (a blob two nodes make, such as a COPY layer, is written once); then
// assembles their results into one index (the platform images, then
// their provenance and SBOM attestation manifests, the index annotations)
// and pushes it by digest, the blobs going up while the nodes export. A
// node that fails or disconnects fails the build, naming it; the others
// are cancelled.
func (s *Stage) buildOnNodes(ctx context.Context, b *pipeline.BuildPlan, pub *pipeline.PublishPlan) (*pipeline.BuildResult, error) {
	start := time.Now()
	kv, mounts, err := frontendAttrs(b)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.OutputDir, LayoutDir)
	onBlob := func(digest.Digest) {}
	var up Upload
	if repo, push := pub.Primary(); push {
		if up, err = s.Pusher.StartUpload(ctx, dir, repo); err != nil {
			return nil, err
		}
		defer up.Abort()
		onBlob = func(d digest.Digest) { up.Blob(v1.Hash{Algorithm: d.Algorithm().String(), Hex: d.Encoded()}) }
	}
	store, err := layoutStore(dir, onBlob)
	if err != nil {
		return nil, err
	}
	connect := s.ConnectNode
	if connect == nil {
		connect = func(ctx context.Context, n attrs.BuilderNode) (*Connection, error) {
			return Selection{Builder: n.Address, TLS: TLS(n.TLS)}.connectAddress(ctx)
		}
	}
	attest := kv["attest:provenance"] != "" || kv["attest:sbom"] != ""
	out := newLineWriter(s.Progress)
	results := make([]pipeline.NodeBuild, len(b.Nodes))
	heads := make([]v1.Hash, len(b.Nodes))
	eg, egctx := errgroup.WithContext(ctx)
	for i, n := range b.Nodes {
		eg.Go(func() error {
			nodeStart := time.Now()
			nb := *b
			nb.Platforms = n.Platforms
			nb.CacheFrom, nb.CacheTo = nodeCache(b.CacheFrom, n.Platforms), nodeCache(b.CacheTo, n.Platforms)
			h, steps, err := s.solveOnNode(egctx, connect, &nb, n, kv, mounts, store, attest || len(n.Platforms) > 1, out.prefixed("["+n.Address+"] "))
			if err != nil {
				return fmt.Errorf("building %s on node %s: %w", strings.Join(n.Platforms, ", "), n.Address, err)
			}
			heads[i] = h
			results[i] = pipeline.NodeBuild{Address: n.Address, Platforms: n.Platforms, Digest: h, Duration: time.Since(nodeStart), Steps: steps.Total, CachedSteps: steps.Cached}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	h, desc, err := assembleIndex(dir, heads, b)
	if err != nil {
		return nil, fmt.Errorf("assembling the index of the nodes' images: %w", err)
	}
	var total Steps
	for _, r := range results {
		total.Total += r.Steps
		total.Cached += r.CachedSteps
	}
	er := map[string]string{
		exptypes.ExporterImageDigestKey:     h.String(),
		exptypes.ExporterImageDescriptorKey: base64.StdEncoding.EncodeToString(desc),
	}
	res, err := s.result(b, pub, dir, er, &total)
	if err != nil {
		return nil, err
	}
	res.Nodes = results
	if up != nil {
		if err := up.Finish(ctx, res.Digest); err != nil {
			return nil, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// solveOnNode solves b (its platforms the node's) on node n into store,
// and returns the digest of what it exported (an index, or a lone
// manifest) and its step counts.
func (s *Stage) solveOnNode(ctx context.Context, connect func(context.Context, attrs.BuilderNode) (*Connection, error), b *pipeline.BuildPlan, n attrs.BuilderNode,
	kv map[string]string, mounts map[string]fsutil.FS, store content.Store, index bool, progress io.Writer,
) (v1.Hash, *Steps, error) {
	conn, err := connect(ctx, n)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	defer conn.Close()
	sess, err := attachables(s.Keychain, b.Secrets, b.SSH)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	cacheFrom, err := cacheEntries(b.CacheFrom, false, s.GHA)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	cacheTo, err := cacheEntries(b.CacheTo, true, s.GHA)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	attrsOf := maps.Clone(kv)
	attrsOf["platform"] = strings.Join(b.Platforms, ",")
	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrsOf,
		LocalMounts:   mounts,
		Exports:       []client.ExportEntry{layoutExporter(store, annotationAttrs(b.Annotations, index))},
		CacheImports:  cacheFrom,
		CacheExports:  cacheTo,
		Session:       sess,
		// What the build asks the nodes to grant (allow; network: host).
		AllowedEntitlements: b.Run.Entitlements,
	}
	mode := b.Progress
	if mode != "quiet" && mode != "rawjson" {
		mode = "plain" // several nodes' progress interleaves: one line each, prefixed
	}
	resp, steps, err := solve(ctx, conn, opt, progress, mode)
	if err != nil {
		if fe := dockerfileError(b, err); fe != nil {
			return v1.Hash{}, nil, fe
		}
		return v1.Hash{}, nil, err // the caller names the node
	}
	h, err := v1.NewHash(resp.ExporterResponse[exptypes.ExporterImageDigestKey])
	if err != nil {
		return v1.Hash{}, nil, fmt.Errorf("BuildKit's image digest: %w", err)
	}
	return h, steps, nil
}

// assembleIndex writes into the layout at dir the index of the nodes'
// results heads (each an index or a lone image manifest, their blobs in
// the layout): every platform image in the plan's platform order, then
// every attestation manifest in the same order, with the index
// annotations the plan asks for. It returns the index's digest and
// descriptor (JSON).
func assembleIndex(dir string, heads []v1.Hash, b *pipeline.BuildPlan) (v1.Hash, []byte, error) {
	lp := layout.Path(dir) // no index.json yet on a first run: only blobs are read
	var images, attestations []v1.Descriptor
	for _, h := range heads {
		raw, err := lp.Bytes(h)
		if err != nil {
			return v1.Hash{}, nil, fmt.Errorf("reading %s from the layout: %w", h, err)
		}
		var probe struct {
			MediaType types.MediaType `json:"mediaType"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return v1.Hash{}, nil, fmt.Errorf("reading %s: %w", h, err)
		}
		if !probe.MediaType.IsIndex() {
			platform, err := manifestPlatform(lp, raw)
			if err != nil {
				return v1.Hash{}, nil, fmt.Errorf("reading the platform of %s: %w", h, err)
			}
			images = append(images, v1.Descriptor{MediaType: probe.MediaType, Size: int64(len(raw)), Digest: h, Platform: platform})
			continue
		}
		m, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return v1.Hash{}, nil, fmt.Errorf("reading %s: %w", h, err)
		}
		for _, d := range m.Manifests {
			if ocilayout.IsAttestation(d) {
				attestations = append(attestations, d)
			} else {
				images = append(images, d)
			}
		}
	}
	rank := func(p *v1.Platform) int {
		if p == nil {
			return len(b.Platforms)
		}
		return slices.IndexFunc(b.Platforms, func(s string) bool {
			q, err := v1.ParsePlatform(s)
			return err == nil && q.Equals(*p)
		})
	}
	slices.SortStableFunc(images, func(x, y v1.Descriptor) int { return rank(x.Platform) - rank(y.Platform) })
	raw, d, err := ocilayout.NewIndex(images, attestations, meta.AnnotationsAt(b.Annotations, "index"))
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if err := lp.WriteBlob(d.Digest, io.NopCloser(bytes.NewReader(raw))); err != nil {
		return v1.Hash{}, nil, err
	}
	desc, err := json.Marshal(d)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	return d.Digest, desc, nil
}

// manifestPlatform is the platform in the config of the image manifest
// raw, whose blobs are in lp.
func manifestPlatform(lp layout.Path, raw []byte) (*v1.Platform, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	cb, err := lp.Bytes(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cb))
	if err != nil {
		return nil, err
	}
	return cf.Platform(), nil
}

// nodeCache gives a node's platforms their own registry cache: a
// type=registry ref gets the platforms in its tag (ref:tag-linux-arm64,
// ref:linux-arm64 without a tag), so that nodes do not overwrite each
// other's cache manifest. Other caches are kept as they are.
func nodeCache(entries []attrs.Entry, platforms []string) []attrs.Entry {
	suffix := strings.NewReplacer("/", "-", ",", "_").Replace(strings.Join(platforms, ","))
	out := make([]attrs.Entry, 0, len(entries))
	for _, e := range entries {
		kv, err := attrs.CacheEntry(string(e), true)
		if err != nil || kv["type"] != "registry" || kv["ref"] == "" || strings.Contains(kv["ref"], "@") {
			out = append(out, e)
			continue
		}
		ref, err := name.ParseReference(kv["ref"], name.WithDefaultTag(""))
		if err != nil {
			out = append(out, e)
			continue
		}
		tagged := ref.Context().Tag(suffix).String()
		if t, ok := ref.(name.Tag); ok && t.TagStr() != "" {
			tagged = ref.Context().Tag(t.TagStr() + "-" + suffix).String()
		}
		kv["ref"] = tagged
		keys := slices.Sorted(maps.Keys(kv))
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+kv[k])
		}
		out = append(out, attrs.Entry(strings.Join(parts, ",")))
	}
	return out
}

// lineWriter serializes whole lines from several writers onto one.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newLineWriter(w io.Writer) *lineWriter {
	if w == nil {
		w = io.Discard
	}
	return &lineWriter{w: w}
}

// prefixed is a writer whose every line goes out whole, after prefix.
func (l *lineWriter) prefixed(prefix string) io.Writer {
	return &prefixWriter{l: l, prefix: prefix}
}

type prefixWriter struct {
	l      *lineWriter
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.l.mu.Lock()
		_, err := fmt.Fprintf(p.l.w, "%s%s\n", p.prefix, p.buf[:i])
		p.l.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}
