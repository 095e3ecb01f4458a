package report

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/prepare"
)

// TestGolden renders the fixed results, passed and failed at the gate,
// compared with the base branch's image and with no base to compare,
// into the job summary, slipway.env and slipway-report.json, and compares
// them with testdata/<case>/ (the comments are TestGitHubStickyComment's).
func TestGolden(t *testing.T) {
	for name, result := range map[string]func(*pipeline.Plan) *pipeline.Result{"passed": fixedResult, "failed": failedResult, "compared": comparedResult, "no-base": noBaseResult} {
		t.Run(name, func(t *testing.T) {
			p := fixedPlan()
			out := newOutputs()
			notify(t, &Notifier{Outputs: out, CI: &ci.Context{Provider: ci.NameGitHub}}, p, result(p))
			summary := readFile(t, filepath.Join(".slipway", SummaryFile))
			if out.summary != summary {
				t.Errorf("the job summary and %s differ", SummaryFile)
			}
			golden(t, name+"/"+SummaryFile, summary)
			dotenv := readFile(t, filepath.Join(".slipway", DotenvFile))
			golden(t, name+"/"+DotenvFile, dotenv)
			golden(t, name+"/"+ReportFile, readFile(t, filepath.Join(".slipway", ReportFile)))
			for line := range strings.Lines(dotenv) {
				if !regexp.MustCompile(`^[A-Z0-9_]+=[^\r\n]*\n$`).MatchString(line) {
					t.Errorf("%s line %q is not KEY=value with KEY in [A-Z0-9_]", DotenvFile, line)
				}
			}
			if n := strings.Count(dotenv, "\n"); n >= 20 {
				t.Errorf("%s has %d variables; GitLab takes 20 by default", DotenvFile, n)
			}
		})
	}
}

func TestReportFileRoundTrips(t *testing.T) {
	p := fixedPlan()
	r := failedResult(p)
	notify(t, &Notifier{Outputs: newOutputs(), CI: &ci.Context{Provider: ci.NameLocal}}, p, r)
	f := reportFile(t)
	if f.Schema != ReportSchema || f.Status != "failed" || f.FailedStage != "gate" || f.Digest != digest || f.ImageID != digest {
		t.Errorf("report: schema %q status %q failed-stage %q digest %q imageid %q", f.Schema, f.Status, f.FailedStage, f.Digest, f.ImageID)
	}
	if f.Result.Scan.Blocking[0].ID != "CVE-2024-0001" || f.Result.Build.Duration != 83*time.Second || f.CI.PR != 7 {
		t.Errorf("the result did not round-trip: %+v", f.Result)
	}
	if !slices.Equal(f.Tags, p.Metadata.Tags) || f.Plan.Comment != p.Report.Comment || len(f.Plan.Steps) != len(p.Steps) {
		t.Errorf("the plan summary did not round-trip: %+v", f.Plan)
	}
}

func TestGitHubStepOutputs(t *testing.T) {
	spec, err := meta.Parse(meta.Inputs{Images: []string{ghcr}, Tags: []string{"type=raw,value=1.2.3"}, Labels: []string{"org.example.team=core"}})
	if err != nil {
		t.Fatal(err)
	}
	md, err := spec.Compute(&ci.Context{Provider: ci.NameGitHub, Event: ci.EventBranchPush, EventName: "push", Ref: "refs/heads/main", Branch: "main", SHA: headSHA}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	p := fixedPlan()
	r := fixedResult(p)
	out := newOutputs()
	notify(t, &Notifier{Outputs: out, CI: &ci.Context{Provider: ci.NameGitHub}, Meta: md}, p, r)
	want := []string{
		"digest", "imageid", "metadata", "images", "version", "tags", "tag-names", "labels", "annotations", "json",
		"vulnerabilities-critical", "vulnerabilities-high", "vulnerabilities-medium", "vulnerabilities-low", "vulnerabilities-unknown",
		"sbom", "sarif", "report", "signature", "attestations", "verify-command",
	}
	if !slices.Equal(out.keys, want) {
		t.Errorf("outputs %q, want %q: each once, in order", out.keys, want)
	}
	metaOutputs, err := md.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range metaOutputs {
		if out.set[kv.Key] != kv.Value {
			t.Errorf("output %s = %q, want metadata's %q", kv.Key, out.set[kv.Key], kv.Value)
		}
	}
	for k, v := range map[string]string{
		"images": ghcr + "@" + digest + "\n" + quay + "@" + digest,
		"digest": digest, "imageid": digest, // two platforms: the index
		"version": "1.2.3", "tags": ghcr + ":1.2.3",
		"vulnerabilities-critical": "0", "vulnerabilities-high": "1", "vulnerabilities-low": "4",
		"sbom":           ".slipway/sbom-linux-amd64.cdx.json\n.slipway/sbom-linux-arm64.cdx.json",
		"sarif":          ".slipway/trivy-results.sarif",
		"report":         ".slipway/slipway-report.json",
		"signature":      r.Sign.Signatures[0].String(),
		"attestations":   ghcr + ":sha256-1111111111111111111111111111111111111111111111111111111111111111.att",
		"verify-command": r.Sign.VerifyCommand,
	} {
		if out.set[k] != v {
			t.Errorf("output %s = %q, want %q", k, out.set[k], v)
		}
	}
	var md2 map[string]any
	if err := json.Unmarshal([]byte(out.set["metadata"]), &md2); err != nil || md2["containerimage.digest"] != digest {
		t.Errorf("metadata output %q: %v", out.set["metadata"], err)
	}
}

// TestImageIDOfOnePlatform: build-push-action's imageid is the config
// digest the build recorded for a single-platform image, the index
// digest otherwise.
func TestImageIDOfOnePlatform(t *testing.T) {
	index := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("9", 64)}
	cfg := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}
	amd := pipeline.PlatformImage{Platform: "linux/amd64", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, Config: cfg}
	b := &pipeline.BuildResult{Digest: index, Platforms: []pipeline.PlatformImage{amd}}
	if id := imageID(b); id != cfg.String() {
		t.Errorf("imageID = %q; want the config digest %s", id, cfg)
	}
	b.Platforms = append(b.Platforms, pipeline.PlatformImage{Platform: "linux/arm64", Config: cfg})
	if id := imageID(b); id != index.String() {
		t.Errorf("imageID of two platforms = %q; want the index digest %s", id, index)
	}
	if id := imageID(nil); id != "" {
		t.Errorf("imageID without a build = %q", id)
	}
}

// TestSummaryOnEveryProvider prepares a branch push of main on GitHub,
// GitLab, Jenkins and locally with the real providers and the same inputs,
// reports the same result, and finds the same facts in every summary:
// they differ in the line that says where the run ran, and nowhere else.
func TestSummaryOnEveryProvider(t *testing.T) {
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	ghEnv := citest.GitHubEnv(t, "push", citest.Payload(t, "push", citest.RefPrefix("refs/heads/")))
	envs := map[string]map[string]string{
		ci.NameGitHub: ghEnv,
		ci.NameGitLab: {
			"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_SHA": headSHA, "CI_COMMIT_BRANCH": "main",
			"CI_PROJECT_ID": "42", "CI_PROJECT_PATH": "group/app", "CI_JOB_URL": "https://gitlab.example.com/group/app/-/jobs/1",
		},
		ci.NameJenkins: {"JENKINS_URL": "https://jenkins.example.com/", "GIT_COMMIT": headSHA, "BRANCH_NAME": "main", "BUILD_URL": "https://jenkins.example.com/job/app/1/"},
		ci.NameLocal:   {},
	}
	summaries := map[string]string{}
	for provider, env := range envs {
		env["SLIPWAY_CI"] = provider
		env["SLIPWAY_CONTEXT"] = work
		env["SLIPWAY_IMAGES"] = ghcr + "\n" + quay
		env["SLIPWAY_TAGS"] = "type=raw,value=1.2.3"
		env["SLIPWAY_PLATFORMS"] = "linux/amd64,linux/arm64"
		env["SLIPWAY_SIGN"] = "false"
		env["SLIPWAY_COMMENT"] = "never"
		prep, err := prepare.Run(context.Background(), prepare.Options{Env: environ.Map(env), Offline: true, Log: &strings.Builder{}})
		if err != nil {
			t.Fatalf("%s: %v", provider, err)
		}
		r := fixedResult(prep.Plan)
		r.Sign = nil
		for i, img := range r.Images {
			r.Images[i].Tags = prep.Plan.Publish.TagsIn(img.Repository)
		}
		notify(t, &Notifier{Outputs: newOutputs(), CI: prep.CI, Meta: prep.Meta, Comment: "never"}, prep.Plan, r)
		summaries[provider] = readFile(t, filepath.Join(".slipway", SummaryFile))
	}
	facts := []string{
		"## ✅ slipway: passed", "Version `1.2.3`.",
		"| `ghcr.io/acme/app` | `" + digest + "` | `1.2.3` |", "| `quay.io/acme/app` | `" + digest + "` | `1.2.3` |",
		"| linux/amd64 | `" + amd64 + "` | 3.0 MiB |", "| linux/arm64 | `" + arm64 + "` | 2.5 MiB |",
		"Built in 1m23s; cache: 6 of 8 steps cached (75%).",
		"✅ gate passed: no CRITICAL vulnerability", "| 0 | 1 | 1 | 4 | 0 |", "Not counted: 2 ignored by the ignore files.",
		"| GHSA-xxxx-yyyy-zzzz |", "| CVE-2023-0002 |", "- cache export to type=gha failed",
		"Not signed: sign is false.",
	}
	where := map[string]string{
		ci.NameGitHub:  "[GitHub Actions run](https://github.com/Codertocat/Hello-World/actions/runs/" + citest.RunID + ")",
		ci.NameGitLab:  "[GitLab CI run](https://gitlab.example.com/group/app/-/jobs/1)",
		ci.NameJenkins: "[Jenkins run](https://jenkins.example.com/job/app/1/)",
		ci.NameLocal:   ", local.",
	}
	strip := func(s string) string {
		var keep []string
		for line := range strings.Lines(s) {
			if !strings.HasPrefix(line, "Commit `") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "")
	}
	for provider, s := range summaries {
		assertContains(t, provider+"'s summary", s, append(facts, where[provider])...)
		if strip(s) != strip(summaries[ci.NameGitHub]) {
			t.Errorf("%s's summary differs from GitHub's beyond the context line:\n%s\n--- GitHub's:\n%s", provider, s, summaries[ci.NameGitHub])
		}
	}
}

func TestMarkdownStaysUnderTheCommentLimit(t *testing.T) {
	p := fixedPlan()
	r := failedResult(p)
	var many []pipeline.Finding
	for i := range 5000 {
		f := high
		f.ID = fmt.Sprintf("CVE-2024-%05d", i)
		many = append(many, f)
	}
	r.Scan.Findings = append(r.Scan.Findings, many...)
	// Findings alone: the table is cut to its first rows, which fit.
	md := Markdown(p, r, 4000)
	if n := utf8.RuneCountInString(md); n > 4000 {
		t.Errorf("%d characters, over the limit of 4000", n)
	}
	assertContains(t, "the cut summary", md, "## ❌ slipway: failed at gate", "> gate: gate failed: 1 CRITICAL",
		"⛔ | CRITICAL | [CVE-2024-0001]", "more not shown", "</details>")
	// Under the limit, the table has its first maxFindings rows.
	full := Markdown(p, r, CommentLimit)
	if n := utf8.RuneCountInString(full); n > CommentLimit || strings.Count(full, "| HIGH |") != maxFindings-1 {
		t.Errorf("%d characters, %d HIGH rows; want under the limit and %d rows in all", n, strings.Count(full, "| HIGH |"), maxFindings)
	}
	assertContains(t, "the summary", full, "Top findings: 1 blocking, 5003 in all", fmt.Sprintf("_%d more not shown", 5003-maxFindings))
	// Warnings far over the limit: the sections after the header are cut,
	// the header never.
	r.Warnings = []string{strings.Repeat("w", 3*CommentLimit)}
	r.Error = "gate: " + strings.Repeat("e", 100)
	md = Markdown(p, r, CommentLimit)
	if n := utf8.RuneCountInString(md); n > CommentLimit {
		t.Errorf("%d characters, over the comment limit", n)
	}
	assertContains(t, "the cut summary", md, "## ❌ slipway: failed at gate", "> gate: eeee", "the rest is cut")
	// The comment, marker included, fits as well.
	api := newFakeGitHub(t, "")
	notify(t, &Notifier{Outputs: newOutputs(), CI: githubPR(api)}, p, r)
	if mine := api.Mine(7); len(mine) != 1 || utf8.RuneCountInString(mine[0].Body) > CommentLimit {
		t.Errorf("the comment is missing or over the limit")
	}
}

func TestNotifyAfterAFailedGate(t *testing.T) {
	p := fixedPlan()
	out := newOutputs()
	log := notify(t, &Notifier{Outputs: out, CI: &ci.Context{Provider: ci.NameGitHub}}, p, failedResult(p))
	for k, want := range map[string]string{"digest": digest, "vulnerabilities-critical": "1", "vulnerabilities-high": "1", "vulnerabilities-low": "4"} {
		if out.set[k] != want {
			t.Errorf("output %s = %q, want %q", k, out.set[k], want)
		}
	}
	if _, ok := out.set["signature"]; ok {
		t.Error("a signature output after the gate failed")
	}
	assertContains(t, "the summary", out.summary, "## ❌ slipway: failed at gate", "| `ghcr.io/acme/app` | `"+digest+"` | not moved (2 planned) |",
		"| `quay.io/acme/app` | not pushed (the run failed first) | — |", "<details open><summary>Top findings: 1 blocking, 3 in all</summary>",
		"| ⛔ | CRITICAL | [CVE-2024-0001](https://avd.aquasec.com/nvd/cve-2024-0001) | openssl | 3.0.1-r0 | 3.0.2-r0 | linux/amd64, linux/arm64 |")
	assertContains(t, "the log", log, "slipway: failed at gate: gate: gate failed", "scan: gate failed: 1 CRITICAL (1 critical, 1 high, 1 medium, 4 low, 0 unknown)")
	env := readFile(t, filepath.Join(".slipway", DotenvFile))
	assertContains(t, DotenvFile, env, "SLIPWAY_RESULT_STATUS=failed\n", "SLIPWAY_RESULT_FAILED_STAGE=gate\n", "SLIPWAY_RESULT_SIGNATURE=\n")
}

// TestLocalRun: no step outputs, the files, and a readable summary on the
// log.
func TestLocalRun(t *testing.T) {
	p := fixedPlan()
	p.CI = pipeline.CIPlan{Provider: ci.NameLocal, Event: string(ci.EventBranchPush), SHA: headSHA, Branch: "main", Repository: "app"}
	out := newOutputs()
	log := notify(t, &Notifier{Outputs: out, CI: &ci.Context{Provider: ci.NameLocal, Event: ci.EventBranchPush, Branch: "main"}}, p, fixedResult(p))
	if len(out.keys) > 0 || out.summary != "" {
		t.Errorf("a local run wrote outputs %q or a job summary", out.keys)
	}
	assertContains(t, "the log", log,
		"\nslipway: passed\n",
		"  built "+digest+" in 1m23s, 6 of 8 steps cached\n",
		"    linux/amd64    "+amd64+"  3.0 MiB\n",
		"  pushed "+ghcr+"@"+digest+" tagged "+ghcr+":pr-7, "+ghcr+":sha-0123456\n",
		"  scan: gate passed: no CRITICAL vulnerability (0 critical, 1 high, 1 medium, 4 low, 0 unknown)\n",
		"  verify: cosign verify ",
		"  warning: cache export to type=gha failed",
		"  report: .slipway/slipway-report.json, .slipway/slipway-summary.md, .slipway/slipway.env\n")
	if s := readFile(t, filepath.Join(".slipway", SummaryFile)); !strings.Contains(s, "Commit `0123456` on `main` of `app`, local.") {
		t.Errorf("summary:\n%s", s)
	}
}
