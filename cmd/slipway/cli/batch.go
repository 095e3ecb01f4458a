package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/promote"
	"github.com/slipway-ci/slipway/internal/registry"
)

// batchResult is one promotion of a batch, as --output json prints it.
type batchResult struct {
	Source string           `json:"source"`
	Tag    string           `json:"tag"`
	Result *pipeline.Result `json:"result,omitempty"`
	Error  string           `json:"error,omitempty"`
}

// runBatch promotes every image a replication file selects, Parallel at
// a time, each as slipway promote does (verified, judged, copied,
// verified there, tagged with the tag that named it) in its own
// directory under output-dir (batch-<n>). A failed promotion does not
// stop the others; the exit code is the worst.
func (o *runOptions) runBatch(ctx context.Context, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return errs.WrapInput("batch", err, "reading the replication file %q", file)
	}
	b, err := promote.ReadBatch(data)
	if err != nil {
		return err
	}
	l, err := config.Load(config.Options{Flags: config.FlagValues(o.flags), Env: o.env})
	if err != nil {
		return err
	}
	retry, err := l.RetryTime()
	if err != nil {
		return err
	}
	pairs, err := b.Expand(ctx, registry.NewKeychain(nil, nil), registry.RetryPolicy{MaxTime: retry, Log: o.stderr}.Transport(nil))
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stderr, "batch: %d images to promote, %d at a time\n", len(pairs), b.Parallel)
	results := make([]batchResult, len(pairs))
	failed := make([]error, len(pairs))
	sem := make(chan struct{}, b.Parallel)
	var wg sync.WaitGroup
	for i, p := range pairs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var to []string
			for _, r := range p.To {
				to = append(to, r.String())
			}
			extra := map[string]string{
				"source": p.Source.String(), "images": strings.Join(to, "\n"), "tags": "type=raw,value=" + p.Tag,
				"output-dir": filepath.Join(l.OutputDir, fmt.Sprintf("batch-%d", i+1)),
			}
			_, res, err := o.pipeline(ctx, extra)
			results[i] = batchResult{Source: p.Source.String(), Tag: p.Tag, Result: res}
			if err != nil {
				results[i].Error = err.Error()
				failed[i] = fmt.Errorf("promoting %s (%s): %w", p.Source, p.Tag, err)
			}
		})
	}
	wg.Wait()
	runErr := errors.Join(failed...)
	if o.output == "json" {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		return errors.Join(runErr, enc.Encode(results))
	}
	for _, r := range results {
		if r.Error != "" || r.Result == nil {
			continue
		}
		for _, im := range r.Result.Images {
			fmt.Fprintln(o.stdout, im.Ref)
		}
	}
	return runErr
}
