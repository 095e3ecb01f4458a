package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// outputs records what a Notifier writes to the CI platform.
type outputs struct {
	set     map[string]string
	summary string
}

func (o *outputs) SetOutput(name, value string) error { o.set[name] = value; return nil }
func (o *outputs) AddSummary(md string) error         { o.summary += md; return nil }
func (o *outputs) Mask(string)                        {}

func TestNotifyAfterAFailedGate(t *testing.T) {
	plan := &pipeline.Plan{Publish: pipeline.PublishPlan{Push: true, Repositories: []string{"ghcr.io/acme/app"}, Tags: map[string][]string{"ghcr.io/acme/app": {"v1"}}}}
	failed := pipeline.Step{Stage: pipeline.StageGate}
	res := &pipeline.Result{
		Build:  &pipeline.BuildResult{Digest: "sha256:abc", Platforms: []pipeline.PlatformImage{{Platform: "linux/amd64", Digest: "sha256:def", Size: 3 << 20}}, Metadata: map[string]any{"containerimage.digest": "sha256:abc"}, Steps: 4, CachedSteps: 3},
		Scan:   &pipeline.ScanResult{Counts: map[string]int{"CRITICAL": 1, "HIGH": 2}, Verdict: "gate failed: 1 CRITICAL, 2 HIGH"},
		Failed: &failed, Error: "gate: gate failed: 1 CRITICAL, 2 HIGH; the digest was left untagged",
	}
	out := &outputs{set: map[string]string{}}
	var log bytes.Buffer
	if err := (&Notifier{Outputs: out, Log: &log}).Notify(context.Background(), plan, res); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"digest": "sha256:abc", "vulnerabilities-critical": "1", "vulnerabilities-high": "2", "vulnerabilities-low": "0"} {
		if out.set[k] != want {
			t.Errorf("output %s = %q, want %q", k, out.set[k], want)
		}
	}
	for _, want := range []string{"**Failed at gate:**", "| linux/amd64 | `sha256:def` | 3.0 MiB |", "`ghcr.io/acme/app@sha256:abc`", "Scan: gate failed"} {
		if !strings.Contains(out.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, out.summary)
		}
	}
	if strings.Contains(out.summary, " tagged `") {
		t.Errorf("the summary says a tag moved after a failed gate:\n%s", out.summary)
	}
	if !strings.Contains(log.String(), "failed at gate") {
		t.Errorf("log:\n%s", log.String())
	}
}
