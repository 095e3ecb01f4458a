package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/core/content"
	contentlocal "github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/client/ociindex"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// layoutStore is the content store of the OCI layout at dir, as BuildKit's
// OCI exporter writes into it through the session: the store BuildKit's
// client makes for an ExportEntry.OutputDir, telling onBlob about every
// blob of the export once it is in the layout (written now, or there from
// an earlier run). The push starts on those while the export goes on.
func layoutStore(dir string, onBlob func(digest.Digest)) (content.Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the OCI layout: %w", err)
	}
	s, err := contentlocal.NewStore(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout %s: %w", dir, err)
	}
	return &notifyingStore{Store: s, onBlob: onBlob}, nil
}

type notifyingStore struct {
	content.Store
	onBlob func(digest.Digest)
}

func (s *notifyingStore) Info(ctx context.Context, dgst digest.Digest) (content.Info, error) {
	info, err := s.Store.Info(ctx, dgst)
	if err == nil {
		s.onBlob(dgst)
	}
	return info, err
}

func (s *notifyingStore) Writer(ctx context.Context, opts ...content.WriterOpt) (content.Writer, error) {
	var wo content.WriterOpts
	for _, o := range opts {
		if err := o(&wo); err != nil {
			return nil, err
		}
	}
	w, err := s.Store.Writer(ctx, opts...)
	if err != nil {
		if errdefs.IsAlreadyExists(err) && wo.Desc.Digest != "" {
			s.onBlob(wo.Desc.Digest)
		}
		return nil, err
	}
	return &notifyingWriter{Writer: w, onBlob: s.onBlob}, nil
}

type notifyingWriter struct {
	content.Writer
	onBlob func(digest.Digest)
}

func (w *notifyingWriter) Commit(ctx context.Context, size int64, expected digest.Digest, opts ...content.Opt) error {
	err := w.Writer.Commit(ctx, size, expected, opts...)
	if err == nil || errdefs.IsAlreadyExists(err) {
		d := expected
		if d == "" {
			d = w.Digest()
		}
		w.onBlob(d)
	}
	return err
}

// recordInLayout adds the exported image, whose descriptor (JSON) BuildKit
// returned, to the layout's index.json, as BuildKit's client does for an
// ExportEntry.OutputDir (an OutputStore is left to its owner).
func recordInLayout(dir string, descriptor []byte) error {
	if len(descriptor) == 0 {
		return errors.New("BuildKit returned no image descriptor")
	}
	var desc ocispecs.Descriptor
	if err := json.Unmarshal(descriptor, &desc); err != nil {
		return fmt.Errorf("BuildKit's image descriptor: %w", err)
	}
	if err := ociindex.NewStoreIndex(dir).Put(desc, ociindex.Tag("latest")); err != nil {
		return fmt.Errorf("writing %s/index.json: %w", dir, err)
	}
	return nil
}
