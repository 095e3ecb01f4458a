// Package report tells the people and machines that started a run what it
// did: step outputs, a summary, machine-readable files.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Notifier writes the run's outputs through the CI platform and a short
// summary on Log.
type Notifier struct {
	Outputs ci.Outputs
	Log     io.Writer
}

// Notify implements pipeline.Notifier. It runs after a failed step too.
func (n *Notifier) Notify(_ context.Context, p *pipeline.Plan, r *pipeline.Result) error {
	outputs := [][2]string{}
	if b := r.Build; b != nil {
		md, err := json.Marshal(b.Metadata)
		if err != nil {
			return err
		}
		outputs = append(outputs, [2]string{"digest", b.Digest}, [2]string{"metadata", string(md)})
		fmt.Fprintf(n.Log, "\nslipway: built %s in %s, %d of %d steps cached\n", b.Digest, b.Duration.Round(1e7), b.CachedSteps, b.Steps)
		for _, pi := range b.Platforms {
			fmt.Fprintf(n.Log, "  %-14s %s  %s\n", pi.Platform, pi.Digest, humanSize(pi.Size))
		}
		if p.Publish.Push {
			for _, repo := range p.Publish.Repositories {
				fmt.Fprintf(n.Log, "  pushed %s@%s", repo, b.Digest)
				if tags := p.Publish.Tags[repo]; len(tags) > 0 && stepDone(r, repo) {
					fmt.Fprintf(n.Log, " tagged %s", strings.Join(tags, ", "))
				}
				fmt.Fprintln(n.Log)
			}
		}
		fmt.Fprintf(n.Log, "  OCI layout: %s\n", b.LayoutDir)
	}
	if s := r.Scan; s != nil {
		for _, sev := range []string{"critical", "high", "medium", "low", "unknown"} {
			outputs = append(outputs, [2]string{"vulnerabilities-" + sev, fmt.Sprint(s.Counts[strings.ToUpper(sev)])})
		}
		fmt.Fprintf(n.Log, "  scan: %s\n", s.Verdict)
	}
	if r.Failed != nil {
		fmt.Fprintf(n.Log, "  failed at %s: %s\n", r.Failed.Stage, r.Error)
	}
	for _, kv := range outputs {
		if err := n.Outputs.SetOutput(kv[0], kv[1]); err != nil {
			return fmt.Errorf("setting output %s: %w", kv[0], err)
		}
	}
	if err := n.Outputs.AddSummary(summary(p, r)); err != nil {
		fmt.Fprintf(n.Log, "warning: writing the job summary: %v\n", err)
	}
	return nil
}

// summary is the job summary in Markdown: what was built, where it went,
// the scan's verdict, and a failure if there was one.
func summary(p *pipeline.Plan, r *pipeline.Result) string {
	var b strings.Builder
	b.WriteString("## slipway\n\n")
	if r.Failed != nil {
		fmt.Fprintf(&b, "**Failed at %s:** %s\n\n", r.Failed.Stage, r.Error)
	}
	if bd := r.Build; bd != nil {
		fmt.Fprintf(&b, "Built `%s` in %s (%d of %d steps cached).\n\n", bd.Digest, bd.Duration.Round(1e7), bd.CachedSteps, bd.Steps)
		b.WriteString("| platform | digest | size |\n|---|---|---|\n")
		for _, pi := range bd.Platforms {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", pi.Platform, pi.Digest, humanSize(pi.Size))
		}
		b.WriteString("\n")
		for _, repo := range p.Publish.Repositories {
			if p.Publish.Push {
				fmt.Fprintf(&b, "- `%s@%s`", repo, bd.Digest)
				if tags := p.Publish.Tags[repo]; len(tags) > 0 && stepDone(r, repo) {
					fmt.Fprintf(&b, " tagged `%s`", strings.Join(tags, "`, `"))
				}
				b.WriteString("\n")
			}
		}
	}
	if s := r.Scan; s != nil {
		fmt.Fprintf(&b, "\nScan: %s\n", s.Verdict)
	}
	return b.String()
}

func stepDone(r *pipeline.Result, repo string) bool {
	for _, s := range r.Done {
		if s.Stage == pipeline.StageTag && s.Repository == repo {
			return true
		}
	}
	return false
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
