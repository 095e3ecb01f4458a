package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/testenv"
)

const e2eToken = "ghp_e2e_token_0123456789abcdef"

// reportEnv is a run against the test environment that pushes, scans
// with the fixture DB (a HIGH finding under a CRITICAL gate) and does not
// sign, for a CI environment env.
func reportEnv(t *testing.T, e *testenv.Env, dir, repo string, env map[string]string) map[string]string {
	t.Helper()
	out := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_PUSH": "true", "SLIPWAY_SIGN": "false",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": "CRITICAL",
	})
	delete(out, "SLIPWAY_CI") // detected from the environment
	for k, v := range env {
		out[k] = v
	}
	return out
}

// A run in a GitHub Actions-like environment (the runner's variables, a
// real pull_request payload, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files,
// a fake API checked against GitHub's OpenAPI description) on the real
// BuildKit and registry: the step outputs, the job summary and one sticky
// comment, created by the first run and edited by the second; another
// user's comment with the same marker is left alone.
func TestReportOnGitHubActions(t *testing.T) {
	e := testenv.Get(t)
	api := citest.NewFakeGitHub(t, "", e2eToken)
	payload := citest.Payload(t, "pull_request", citest.Action("opened"))
	pr := int(citest.Get(payload, "pull_request.number").(float64))
	dir := testenv.GitProject(t, debianFiles)
	repo := e.UniqueRepo(t, "reported")
	gh := citest.GitHubEnv(t, "pull_request", payload)
	gh["GITHUB_API_URL"], gh["GITHUB_TOKEN"] = api.URL, e2eToken
	env := reportEnv(t, e, dir, repo, gh)
	marker := "<!-- slipway:sticky:" + repo + " -->"
	other := api.Add(pr, "someone-else", marker+"\nnot slipway's")

	for run := 1; run <= 2; run++ {
		for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
			if err := os.WriteFile(env[f], nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res, r := runResult(t, dir, env)
		if strings.Contains(withoutMaskCommands(r.stdout+r.stderr), e2eToken) {
			t.Error("the output shows the token")
		}
		if !strings.Contains(r.stdout+r.stderr, "::add-mask::"+e2eToken) {
			t.Error("the token was not masked in the log")
		}
		digest := res.Build.DigestStr()
		raw, err := os.ReadFile(env["GITHUB_OUTPUT"])
		if err != nil {
			t.Fatal(err)
		}
		out := parseGitHubOutput(t, string(raw))
		for k, want := range map[string]string{
			"digest": digest, "images": repo + "@" + digest, "vulnerabilities-high": "1", "vulnerabilities-critical": "0",
			"tags": repo + ":pr-" + strconv.Itoa(pr) + "\n" + repo + ":sha-" + env["GITHUB_SHA"][:7],
		} {
			if out[k] != want {
				t.Errorf("run %d: output %s = %q, want %q", run, k, out[k], want)
			}
		}
		for _, k := range []string{"metadata", "json", "labels", "version", "imageid", "sarif", "sbom", "report"} {
			if out[k] == "" {
				t.Errorf("run %d: output %s is missing", run, k)
			}
		}
		summary, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"slipway: passed", digest, "CVE-2099-0001", "gate passed"} {
			if !strings.Contains(string(summary), want) {
				t.Errorf("run %d: the job summary lacks %q:\n%s", run, want, summary)
			}
		}
		mine := api.Mine(pr)
		if len(mine) != 1 || !strings.Contains(mine[0].Body, marker) || !strings.Contains(mine[0].Body, digest) {
			t.Fatalf("run %d: slipway's comments on #%d: %+v, want one with the marker and %s", run, pr, mine, digest)
		}
		_, ops := api.Take()
		want := "issues/create-comment"
		if run == 2 {
			want = "issues/update-comment"
		}
		if !slices.Contains(ops, want) || (run == 2 && slices.Contains(ops, "issues/create-comment")) {
			t.Errorf("run %d: API operations %q, want %s", run, ops, want)
		}
	}
	if other.Body != marker+"\nnot slipway's" {
		t.Errorf("another user's comment was changed: %q", other.Body)
	}
}

// The same run in a Jenkins-like environment (a multibranch pull request
// build, CHANGE_* variables, the pull request on a GitHub Enterprise
// server): the files under the output dir, and the same sticky comment.
func TestReportOnJenkins(t *testing.T) {
	e := testenv.Get(t)
	api := citest.NewFakeGitHub(t, "/api/v3", e2eToken)
	dir := testenv.GitProject(t, debianFiles)
	repo := e.UniqueRepo(t, "jenkins")
	env := reportEnv(t, e, dir, repo, map[string]string{
		"JENKINS_URL": "https://jenkins.example.com/", "BUILD_URL": "https://jenkins.example.com/job/app/job/PR-7/1/",
		"BRANCH_NAME": "PR-7", "CHANGE_ID": "7", "CHANGE_BRANCH": "feature", "CHANGE_TARGET": "main",
		"CHANGE_URL": api.URL + "/acme/app/pull/7", "SLIPWAY_GITHUB_TOKEN": e2eToken,
	})
	for run := 1; run <= 2; run++ {
		res, r := runResult(t, dir, env)
		if strings.Contains(r.stdout+r.stderr, e2eToken) {
			t.Error("the output shows the token")
		}
		outDir := env["SLIPWAY_OUTPUT_DIR"]
		dotenv := testenv.ReadDotenv(t, filepath.Join(outDir, "slipway.env"))
		if dotenv["SLIPWAY_RESULT_DIGEST"] != res.Build.DigestStr() || dotenv["SLIPWAY_RESULT_STATUS"] != "passed" {
			t.Errorf("run %d: slipway.env = %v", run, dotenv)
		}
		summary, err := os.ReadFile(filepath.Join(outDir, "slipway-summary.md"))
		if err != nil || !strings.Contains(string(summary), res.Build.DigestStr()) || !strings.Contains(string(summary), "Jenkins") {
			t.Errorf("run %d: slipway-summary.md (%v):\n%s", run, err, summary)
		}
		if _, err := os.Stat(filepath.Join(outDir, "slipway-report.json")); err != nil {
			t.Errorf("run %d: %v", run, err)
		}
		if mine := api.Mine(7); len(mine) != 1 || !strings.Contains(mine[0].Body, res.Build.DigestStr()) {
			t.Errorf("run %d: slipway's comments on #7: %+v", run, mine)
		}
	}
}

// withoutMaskCommands drops GitHub's ::add-mask:: commands, which carry
// the value they tell the runner to mask.
func withoutMaskCommands(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
