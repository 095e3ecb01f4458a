package build

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The layout's store tells about each blob once it is in the layout:
// written, found written already (by Info or by a Writer refused), never
// a blob only begun.
func TestLayoutStoreTellsBlobs(t *testing.T) {
	var got []digest.Digest
	s, err := layoutStore(t.TempDir(), func(d digest.Digest) { got = append(got, d) })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := []byte(`{"a layer":"or a config"}`)
	desc := ocispecs.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := content.WriteBlob(ctx, s, "ref1", bytes.NewReader(data), desc); err != nil {
		t.Fatal(err)
	}
	// Written again: the local store refuses the writer, the blob is there.
	if err := content.WriteBlob(ctx, s, "ref2", bytes.NewReader(data), desc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(ctx, desc.Digest); err != nil {
		t.Fatal(err)
	}
	missing := digest.FromString("not there")
	if _, err := s.Info(ctx, missing); err == nil {
		t.Fatal("Info found a blob never written")
	}
	w, err := s.Writer(ctx, content.WithRef("ref3"), content.WithDescriptor(ocispecs.Descriptor{Digest: missing, Size: 9}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("not")); err != nil {
		t.Fatal(err)
	}
	w.Close() // begun, never committed
	want := []digest.Digest{desc.Digest, desc.Digest, desc.Digest}
	if !slices.Equal(got, want) {
		t.Errorf("told %v, want %v", got, want)
	}
}
