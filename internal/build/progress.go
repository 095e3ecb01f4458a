package build

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"
)

// stepName matches the vertices of Dockerfile instructions, e.g.
// "[build 2/4] RUN go build": the steps whose cache hits a run reports.
// FROM is left out: a base image is resolved and fetched, never built,
// and BuildKit never reports it cached (it is "DONE" after a prune even
// when every step comes from an imported cache).
var (
	stepName = regexp.MustCompile(`^\[(?:[^\]]+ )?\d+/\d+\] `)
	fromStep = regexp.MustCompile(`^\[(?:[^\]]+ )?\d+/\d+\] FROM `)
)

// Steps counts a build's Dockerfile steps and how many came from cache.
type Steps struct {
	mu     sync.Mutex
	done   map[digest.Digest]bool // completed step → cached
	Total  int
	Cached int
}

func (s *Steps) observe(st *client.SolveStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = map[digest.Digest]bool{}
	}
	for _, v := range st.Vertexes {
		if v.Completed == nil || v.Error != "" || !stepName.MatchString(v.Name) || fromStep.MatchString(v.Name) {
			continue
		}
		if _, seen := s.done[v.Digest]; !seen {
			s.Total++
			if v.Cached {
				s.Cached++
			}
		}
		s.done[v.Digest] = v.Cached
	}
}

// display shows BuildKit's progress on w in mode (auto, tty, plain,
// rawjson or quiet) while counting steps. It returns when ch is closed.
func display(ctx context.Context, w io.Writer, mode string, ch chan *client.SolveStatus, steps *Steps) error {
	// BuildKit's Solve blocks on sending status: whatever happens to the
	// display, ch is read to its end.
	defer func() {
		for range ch {
		}
	}()
	d, err := progressui.NewDisplay(w, progressui.DisplayMode(mode))
	if err != nil {
		// tty asked for but w is not one: fall back to plain output.
		if d, err = progressui.NewDisplay(w, progressui.PlainMode); err != nil {
			return fmt.Errorf("starting the progress display: %w", err)
		}
	}
	tee := make(chan *client.SolveStatus)
	go func() {
		defer close(tee)
		for st := range ch {
			steps.observe(st)
			tee <- st
		}
	}()
	// Warnings are printed by the display itself.
	_, err = d.UpdateFrom(context.WithoutCancel(ctx), tee)
	for range tee {
	}
	return err
}
