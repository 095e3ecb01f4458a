package report

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/google/go-containerregistry/pkg/name"

	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
)

// The files the report writes under the output directory, on every
// provider: a GitHub workflow can upload them as artifacts as a GitLab job
// or a Jenkins build archives them.
const (
	ReportFile  = "slipway-report.json" // File, as JSON
	SummaryFile = ci.SummaryFile        // the job summary (Markdown)
	DotenvFile  = ci.DotenvFile         // Dotenv, for GitLab's artifacts:reports:dotenv
)

// ReportSchema names the format of slipway-report.json.
const ReportSchema = "slipway.report/v1"

// File is slipway-report.json: the run's result with a summary of its
// plan. The field names are stable; fields may be added.
type File struct {
	Schema      string   `json:"schema"` // ReportSchema
	Status      string   `json:"status"` // "passed" or "failed"
	FailedStage string   `json:"failed-stage,omitempty"`
	Error       string   `json:"error,omitempty"`
	Version     string   `json:"version"`
	Digest      string   `json:"digest,omitempty"`
	ImageID     string   `json:"imageid,omitempty"`
	Tags        []string `json:"tags"`
	// CI is the context the run was planned for.
	CI      pipeline.CIPlan  `json:"ci"`
	Plan    PlanSummary      `json:"plan"`
	Comment CommentStatus    `json:"comment"`
	Result  *pipeline.Result `json:"result"`
}

// PlanSummary is what the plan said the run would do.
type PlanSummary struct {
	Push         bool                `json:"push"`
	PushReason   string              `json:"push-reason,omitempty"`
	Repositories []string            `json:"repositories"`
	Tags         map[string][]string `json:"tags"`
	Platforms    []string            `json:"platforms"`
	Scan         bool                `json:"scan"`
	Severity     []severity.Severity `json:"severity"`
	ScanFail     bool                `json:"scan-fail"`
	Sign         bool                `json:"sign"`
	SignMode     mode.Signing        `json:"sign-mode,omitempty"`
	SignReason   string              `json:"sign-reason,omitempty"`
	Comment      string              `json:"comment"`
	Steps        []pipeline.Step     `json:"steps"`
}

// CommentStatus is what became of the sticky PR/MR comment.
type CommentStatus struct {
	// Action is "created", "updated", "skipped" or "failed".
	Action string `json:"action"`
	// Target is the change request, e.g. "pull request #7".
	Target string `json:"target,omitempty"`
	URL    string `json:"url,omitempty"`
	// Reason says why it was skipped or failed.
	Reason string `json:"reason,omitempty"`
}

// facts are the values the outputs, the dotenv file and the report file
// share.
type facts struct {
	status    string // "passed" or "failed"
	digest    string
	imageID   string
	image     string // the first repository@digest pushed
	platforms []string
	sbom      []string
	sarif     []string
	signature string // the digest's signature in the repository signed in
}

func newFacts(r *pipeline.Result, imageID string) facts {
	f := facts{status: "passed", imageID: imageID}
	if r.Failed != nil {
		f.status = "failed"
	}
	if b := r.Build; b != nil {
		f.digest = b.DigestStr()
		for _, pi := range b.Platforms {
			f.platforms = append(f.platforms, pi.Platform)
		}
	}
	if len(r.Images) > 0 {
		f.image = r.Images[0].Ref.String()
	}
	if s := r.Sign; s != nil && len(s.Signatures) > 0 {
		f.signature = s.Signatures[0].String()
	}
	if s := r.Scan; s != nil {
		for _, rf := range s.Reports {
			switch rf.Format {
			case pipeline.FormatCycloneDX:
				f.sbom = append(f.sbom, rf.Path)
			case pipeline.FormatSARIF:
				f.sarif = append(f.sarif, rf.Path)
			}
		}
	}
	return f
}

// newFile assembles slipway-report.json.
func newFile(p *pipeline.Plan, r *pipeline.Result, f facts, cs CommentStatus) *File {
	out := &File{
		Schema: ReportSchema, Status: f.status, Error: r.Error,
		Version: p.Metadata.Version.Main, Digest: f.digest, ImageID: f.imageID, Tags: nonNil(p.Metadata.Tags),
		CI: p.CI, Comment: cs, Result: r,
		Plan: PlanSummary{
			Push: p.Publish.Push, PushReason: p.Publish.Reason, Repositories: repoNames(p.Publish.Repositories),
			Tags: p.Publish.TagNames(), Platforms: nonNil(p.Build.Platforms),
			Scan: p.Scan.Enabled, Severity: nonNil(p.Scan.Severity), ScanFail: p.Scan.Fail,
			Sign: p.Sign.Enabled, SignMode: p.Sign.Mode, SignReason: p.Sign.Reason,
			Comment: p.Report.Comment, Steps: p.Steps,
		},
	}
	if out.Plan.Tags == nil {
		out.Plan.Tags = map[string][]string{}
	}
	if r.Failed != nil {
		out.FailedStage = string(r.Failed.Stage)
	}
	return out
}

// Dotenv renders slipway.env, the dotenv file GitLab's
// artifacts:reports:dotenv passes to later jobs: KEY=value lines, keys
// [A-Z0-9_]+, values on one line and unquoted (GitLab supports neither
// quotes nor escapes), lists comma-separated, no secret. Every key is
// written, empty when unknown, and there are fewer than GitLab's default
// limit of 20 variables. The keys start with SLIPWAY_RESULT_, which no
// input reads: a later slipway job that inherits them is not configured
// by them.
func Dotenv(p *pipeline.Plan, r *pipeline.Result, reportPath string, f facts) string {
	kv := [][2]string{
		{config.ResultEnvPrefix + "STATUS", f.status},
		{config.ResultEnvPrefix + "FAILED_STAGE", ""},
		{config.ResultEnvPrefix + "VERSION", p.Metadata.Version.Main},
		{config.ResultEnvPrefix + "DIGEST", f.digest},
		{config.ResultEnvPrefix + "IMAGEID", f.imageID},
		{config.ResultEnvPrefix + "IMAGE", f.image},
		{config.ResultEnvPrefix + "TAGS", strings.Join(p.Metadata.Tags, ",")},
		{config.ResultEnvPrefix + "PLATFORMS", strings.Join(f.platforms, ",")},
	}
	if r.Failed != nil {
		kv[1][1] = string(r.Failed.Stage)
	}
	for _, sev := range severities {
		v := ""
		if r.Scan != nil {
			v = strconv.Itoa(r.Scan.Counts[sev])
		}
		kv = append(kv, [2]string{config.ResultEnvPrefix + "VULNERABILITIES_" + sev.String(), v})
	}
	var verify string
	if s := r.Sign; s != nil {
		verify = s.VerifyCommand
	}
	kv = append(kv, [2]string{config.ResultEnvPrefix + "SIGNATURE", f.signature}, [2]string{config.ResultEnvPrefix + "VERIFY_COMMAND", verify},
		[2]string{config.ResultEnvPrefix + "REPORT", reportPath})
	base, figures := compareDotenv(r.Compare)
	kv = append(kv, [2]string{config.ResultEnvPrefix + "COMPARE_BASE", base}, [2]string{config.ResultEnvPrefix + "COMPARE", figures})
	if pr := r.Partial; pr != nil {
		// Named by platform: the merge job's needs: take every matrix
		// job's dotenv, and one name would keep only the last.
		kv = append(kv, [2]string{PartialEnvName(pr.Platform), pr.Line()})
	}
	for i := range kv {
		kv[i][1] = strings.Join(strings.Fields(kv[i][1]), " ")
	}
	return ci.FormatDotenv(kv)
}

// PartialEnvName is the slipway.env variable of a partial run's result
// for platform: SLIPWAY_RESULT_PARTIAL_LINUX_ARM64.
func PartialEnvName(platform string) string {
	return config.ResultEnvPrefix + "PARTIAL_" + strings.ToUpper(strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(platform))
}

// writeFiles writes the report file, the summary and the dotenv file
// under dir, replacing earlier ones.
func writeFiles(dir string, file *File, summary, dotenv string) error {
	js, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", ReportFile, err)
	}
	var errs []error
	for _, f := range [][2]string{{ReportFile, string(js) + "\n"}, {SummaryFile, summary}, {DotenvFile, dotenv}} {
		if err := ci.WriteOutputFile(dir, f[0], f[1], false); err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", f[0], err))
		}
	}
	return errors.Join(errs...)
}

// imageID is build-push-action's imageid: with exactly one platform, the
// digest of its image config (what `docker images` shows as the image
// ID), which the build recorded; otherwise the index digest, which is
// what identifies a multi-platform image.
func imageID(b *pipeline.BuildResult) string {
	if b == nil {
		return ""
	}
	if len(b.Platforms) == 1 && b.Platforms[0].Config != (v1.Hash{}) {
		return b.Platforms[0].Config.String()
	}
	return b.DigestStr()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func repoNames(repos []name.Repository) []string {
	out := []string{}
	for _, r := range repos {
		out = append(out, r.Name())
	}
	return out
}
