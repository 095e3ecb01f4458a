package dockerdriver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// maxLoadMessages bounds the progress messages read from an image load.
const maxLoadMessages = 100000

// LoadImage loads img into the Docker Engine at host ("" is DefaultHost)
// under tags, as `docker load` does with a `docker save` archive written
// on the fly; with no tags, untagged (by the digest ref, whose image the
// Engine knows by its ID). It returns the Engine's image ID.
func LoadImage(ctx context.Context, host string, ref name.Digest, img v1.Image, tags []name.Tag) (v1.Hash, error) {
	if host == "" {
		host = DefaultHost
	}
	id, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading the image's config: %w", err)
	}
	dc, err := newDockerClient(host)
	if err != nil {
		return v1.Hash{}, err
	}
	defer dc.Close()
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		refs[t] = img
	}
	if len(refs) == 0 {
		refs[ref] = img
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.MultiRefWrite(refs, pw)) }()
	res, err := dc.ImageLoad(ctx, pr)
	if err != nil {
		pr.CloseWithError(err)
		return v1.Hash{}, fmt.Errorf("loading the image into the Docker Engine at %s: %w", host, err)
	}
	defer res.Close()
	if err := loadErrors(res); err != nil {
		return v1.Hash{}, fmt.Errorf("loading the image into the Docker Engine at %s: %w", host, err)
	}
	return id, nil
}

// loadErrors reads the Engine's JSON message stream of a load to its end
// and returns the error it reports, if any.
func loadErrors(r io.Reader) error {
	dec := json.NewDecoder(r)
	for range maxLoadMessages {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		err := dec.Decode(&m)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("reading the Engine's answer: %w", err)
		case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
			return errors.New(m.ErrorDetail.Message)
		case m.Error != "":
			return errors.New(m.Error)
		}
	}
	return fmt.Errorf("the Engine's answer has over %d messages", maxLoadMessages)
}
