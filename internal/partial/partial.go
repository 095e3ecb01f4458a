// Package partial records what one platform's job of a CI matrix built
// and found, for slipway merge: an OCI 1.1 artifact whose subject is the
// platform's image manifest, pushed by digest next to it. The record is
// digest-bound: the partial run outputs its digest with the manifest's
// (pipeline.PartialResult.Line), the merge reads it by that digest, so a
// record changed or swapped in the registry is not the one named, and a
// line naming another manifest does not match the record's subject.
package partial

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
)

// Media types of the record artifact.
const (
	// ArtifactType is the record manifest's artifactType, and the media
	// type of its first layer, the Record as JSON.
	ArtifactType = "application/vnd.slipway.partial.v1+json"
	// emptyConfig is OCI 1.1's empty descriptor, the config of an
	// artifact that has none.
	emptyConfig = "application/vnd.oci.empty.v1+json"
	// Schema names the Record's format.
	Schema = "slipway.partial/v1"
)

// report media types, by the scan report format.
var reportTypes = map[string]types.MediaType{
	"cyclonedx": "application/vnd.cyclonedx+json",
	"json":      "application/vnd.slipway.trivy.report.v1+json",
	"sarif":     "application/sarif+json",
}

// Record is the record's first layer: the platform, its image, and the
// scan's result (nil when the run did not scan). The scan's report files
// follow as layers, each titled with its file name.
type Record struct {
	Schema   string               `json:"schema"` // Schema
	Platform string               `json:"platform"`
	Image    name.Digest          `json:"image"`
	Manifest v1.Hash              `json:"manifest"`
	RunURL   string               `json:"run-url,omitempty"`
	Scan     *pipeline.ScanResult `json:"scan"`
}

// Recorder is the record step of a partial run: a pipeline.Recorder.
type Recorder struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	// RunURL names the CI job, for the merge's summary.
	RunURL string
}

// Record pushes the record of built (one platform) and scanned to repo,
// the repository the build pushed to.
func (r *Recorder) Record(ctx context.Context, repo name.Repository, built *pipeline.BuildResult, scanned *pipeline.ScanResult) (*pipeline.PartialResult, error) {
	if built == nil || len(built.Platforms) != 1 {
		return nil, errors.New("a partial run records one platform image, and the build has not one")
	}
	pi := built.Platforms[0]
	opts := registry.RemoteOptions(ctx, r.Keychain, r.Transport)
	subject, err := remote.Head(repo.Digest(pi.Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s in %s: %w", pi.Platform, repo, err)
	}
	rec := Record{Schema: Schema, Platform: pi.Platform, Image: built.In(repo), Manifest: pi.Digest, RunURL: r.RunURL, Scan: scanned}
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	layers := []blob{{data: js, mediaType: ArtifactType, title: "record.json"}}
	if scanned != nil {
		for _, f := range scanned.Reports {
			mt, ok := reportTypes[f.Format]
			if !ok || (f.Platform != "" && f.Platform != pi.Platform) {
				continue
			}
			data, err := os.ReadFile(f.Path)
			if err != nil {
				return nil, fmt.Errorf("reading the scan report %s: %w", f.Path, err)
			}
			layers = append(layers, blob{data: data, mediaType: mt, title: filepath.Base(f.Path)})
		}
	}
	d, err := pushArtifact(repo, subject, layers, opts)
	if err != nil {
		return nil, fmt.Errorf("pushing the record of %s to %s: %w", pi.Platform, repo, err)
	}
	return &pipeline.PartialResult{Platform: pi.Platform, Image: built.In(repo), Manifest: pi.Digest, Record: repo.Digest(d.String())}, nil
}

// blob is one layer of the record artifact.
type blob struct {
	data      []byte
	mediaType types.MediaType
	title     string
}

// artifactManifest is an OCI 1.1 image manifest of an artifact.
type artifactManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	ArtifactType  string          `json:"artifactType"`
	Config        v1.Descriptor   `json:"config"`
	Layers        []v1.Descriptor `json:"layers"`
	Subject       *v1.Descriptor  `json:"subject,omitempty"`
}

// pushArtifact uploads layers and an empty config, then the artifact
// manifest with subject, by digest (go-containerregistry also lists it
// in the sha256-<hex> referrers tag on a registry without the Referrers
// API). It returns the manifest's digest.
func pushArtifact(repo name.Repository, subject *v1.Descriptor, layers []blob, opts []remote.Option) (v1.Hash, error) {
	m := artifactManifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ArtifactType,
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}}
	cfg := blob{data: []byte("{}"), mediaType: emptyConfig}
	for i, b := range append([]blob{cfg}, layers...) {
		l := static.NewLayer(b.data, b.mediaType)
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return v1.Hash{}, err
		}
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		desc := v1.Descriptor{MediaType: b.mediaType, Size: int64(len(b.data)), Digest: d}
		if i == 0 {
			m.Config = desc
			continue
		}
		desc.Annotations = map[string]string{"org.opencontainers.image.title": b.title}
		m.Layers = append(m.Layers, desc)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw: raw, mediaType: m.MediaType}, opts...); err != nil {
		return v1.Hash{}, err
	}
	return h, nil
}

// rawManifest is a manifest to PUT as it is.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// Read reads the record d of repo by its digest, checks that it is a
// record of manifest (its subject, and what it says) and returns it with
// its report layers by title.
func Read(ctx context.Context, d name.Digest, manifest v1.Hash, keychain authn.Keychain, transport http.RoundTripper) (*Record, map[string][]byte, error) {
	opts := registry.RemoteOptions(ctx, keychain, transport)
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the record %s: %w", d, err)
	}
	var m artifactManifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("the record %s: %w", d, err)
	}
	switch {
	case m.ArtifactType != ArtifactType || len(m.Layers) == 0 || m.Layers[0].MediaType != ArtifactType:
		return nil, nil, fmt.Errorf("%s is not a slipway partial record (artifactType %q)", d, m.ArtifactType)
	case m.Subject == nil || m.Subject.Digest != manifest:
		return nil, nil, fmt.Errorf("the record %s is not of %s (its subject is %v)", d, manifest, subjectOf(m))
	}
	layers := map[string][]byte{}
	var rec Record
	for i, l := range m.Layers {
		lr, err := remote.Layer(d.Context().Digest(l.Digest.String()), opts...)
		if err != nil {
			return nil, nil, err
		}
		rc, err := lr.Compressed()
		if err != nil {
			return nil, nil, fmt.Errorf("reading layer %s of the record %s: %w", l.Digest, d, err)
		}
		// go-containerregistry checks the digest as it reads.
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("reading layer %s of the record %s: %w", l.Digest, d, err)
		}
		if i == 0 {
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				return nil, nil, fmt.Errorf("the record %s: %w", d, err)
			}
			continue
		}
		layers[l.Annotations["org.opencontainers.image.title"]] = buf.Bytes()
	}
	if rec.Schema != Schema || rec.Manifest != manifest {
		return nil, nil, fmt.Errorf("the record %s (schema %q) is of %s, not %s", d, rec.Schema, rec.Manifest, manifest)
	}
	return &rec, layers, nil
}

func subjectOf(m artifactManifest) string {
	if m.Subject == nil {
		return "none"
	}
	return m.Subject.Digest.String()
}
