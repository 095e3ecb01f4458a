package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/scan"
	"github.com/slipway-ci/slipway/internal/scan/fixture"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// e2eGitLabToken is the token the fake GitLab API accepts.
const e2eGitLabToken = "glpat-e2e-token-0123456789"

// The comparison's fixture: "main" ships openssl with a HIGH finding
// (fixture.AppAdvisory) and zlib; the pull request upgrades openssl to
// the fixed version, adds bash (a HIGH finding of its own) and a 2 MiB
// file.
var (
	compareOpenSSLFixed = fixture.Package{Name: "openssl", Version: "3.0.13-1~deb12u1", Arch: "all"}
	compareZlib         = fixture.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", SrcName: "zlib", Arch: "all"}
	compareBash         = fixture.Package{Name: "bash", Version: "5.2.15-2+b2", Arch: "all"}
	compareBashAdvisory = fixture.Advisory{
		ID: "CVE-2099-0010", OS: fixture.OSDebian, Release: "12", Package: "bash",
		Fixed: "5.2.21-1", Severity: "HIGH", Title: "fixture: bash parser overflow",
	}
)

// compareProject is a git project of a Debian-like image of pkgs, and
// extra files.
func compareProject(t *testing.T, pkgs []fixture.Package, extra map[string]string) string {
	t.Helper()
	files, err := fixture.DebianFiles("12.5", "amd64", pkgs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY root/ /\n"}
	for p, c := range files {
		out["root/"+p] = c
	}
	for p, c := range extra {
		out["root/"+p] = c
	}
	return testenv.GitProject(t, out)
}

// incompressible is n bytes gzip cannot shrink, the same every time.
func incompressible(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

// The pull request's comparison with the base branch's image, on the
// real BuildKit and registry: "main" is published, signed and attested;
// a pull request that fixes its finding, adds another and grows the image
// gets a sticky comment (fake GitHub API) with exactly those changes, the
// outputs say them, the new gate fails on the added finding, and the
// comparison read the base's manifests and attestations, none of its
// layers (the registry's access log). A pull request that keeps the old
// finding passes the new gate. Then the other bases: one without
// attestations is scanned from the registry; one attested with another
// key does not count and is scanned too; a missing one is reported; none
// fails the run.
func TestCompareWithBaseBranch(t *testing.T) {
	e := testenv.Get(t)
	db := t.TempDir()
	if err := fixture.WriteDB(db, []fixture.Advisory{fixture.AppAdvisory, compareBashAdvisory}, time.Now()); err != nil {
		t.Fatal(err)
	}
	const pw = "compare-password"
	priv, _ := keyPair(t, t.TempDir(), pw)
	otherPriv, _ := keyPair(t, t.TempDir(), pw)
	repo := e.UniqueRepo(t, "compared")
	mainPkgs := []fixture.Package{fixture.AppPackage, compareZlib}
	prPkgs := []fixture.Package{compareOpenSSLFixed, compareZlib, compareBash}
	run := func(dir, images string, more map[string]string) map[string]string {
		env := buildEnv(t, e, map[string]string{
			"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": images, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
			"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": db, "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
			"SLIPWAY_SEVERITY": "CRITICAL", "SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": pw, "SLIPWAY_TLOG_UPLOAD": "false",
		})
		for k, v := range more {
			env[k] = v
		}
		return env
	}

	// "main": a push of the default branch, signed and attested.
	mainDir := compareProject(t, mainPkgs, nil)
	mainRes, _ := runResult(t, mainDir, run(mainDir, repo, nil))
	if mainRes.Compare != nil {
		t.Errorf("a branch push compared with %s", mainRes.Compare.Base)
	}
	baseDigest := mainRes.Build.DigestStr()
	mainManifest := remoteManifest(t, repo+"@"+mainRes.Build.Platforms[0].Digest.String())
	var baseLayers []string
	for _, l := range mainManifest.Layers {
		baseLayers = append(baseLayers, l.Digest.String())
	}
	// The base image annotations: the final stage's FROM (through the
	// BASE build arg) and the digest it resolved to, which regctl's
	// check-base finds current.
	ann := mainManifest.Annotations
	if want := testenv.TagDigest(t, e.BaseImage); ann["org.opencontainers.image.base.name"] != e.BaseImage || ann["org.opencontainers.image.base.digest"] != want {
		t.Errorf("base annotations %v, want %s at %s", ann, e.BaseImage, want)
	}
	host, _, _ := strings.Cut(repo, "/")
	if out, err := exec.Command(testenv.GoTool(t, "regctl"), "--host", "reg="+host+",tls=disabled", "image", "check-base",
		repo+"@"+mainRes.Build.Platforms[0].Digest.String()).CombinedOutput(); err != nil {
		t.Errorf("regctl image check-base: %v\n%s", err, out)
	}

	// The pull request, on GitHub Actions.
	api := citest.NewFakeGitHub(t, "", e2eToken)
	payload := citest.Payload(t, "pull_request", citest.Action("opened"))
	citest.Set(payload, "pull_request.base.ref", "main")
	pr := int(citest.Get(payload, "pull_request.number").(float64))
	prDir := compareProject(t, prPkgs, map[string]string{"usr/share/app/blob.bin": incompressible(2 << 20)})
	gh := citest.GitHubEnv(t, "pull_request", payload)
	gh["GITHUB_API_URL"], gh["GITHUB_TOKEN"] = api.URL, e2eToken
	env := run(prDir, repo, gh)
	delete(env, "SLIPWAY_CI")
	env["SLIPWAY_PUSH"], env["SLIPWAY_SEVERITY"], env["SLIPWAY_GATE"] = "true", "HIGH", "new"
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
		if err := os.WriteFile(env[f], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mark := e.Mark(t)
	r := slipway(t, prDir, env, "run")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "CVE-2099-0010 in bash") || strings.Contains(lastLine(r.stderr), "CVE-2099-0001") {
		t.Fatalf("exit %d, want 1 at the new gate naming the added CVE-2099-0010 only:\n%s", r.code, r.stderr)
	}
	repoPath := "/v2" + strings.TrimPrefix(repo, e.Registry) + "/blobs/"
	prReqs := e.RegistryRequests(t, mark)
	var report struct {
		Result pipeline.Result `json:"result"`
	}
	testenv.ReadJSON(t, env["SLIPWAY_OUTPUT_DIR"]+"/slipway-report.json", &report)
	if c := report.Result.Compare; c != nil {
		// Measured, not bounded: the attestation path's time and bytes.
		t.Logf("attestation path: compare took %s, read %d bytes of blobs from %s", c.Duration, blobBytes(prReqs, repoPath), repo)
	}
	for _, req := range prReqs {
		for _, l := range baseLayers {
			if req.IsBlobGet() && req.Path == repoPath+l {
				t.Errorf("the comparison read a layer of the base: %s %s", req.Method, req.Path)
			}
		}
	}
	raw, err := os.ReadFile(env["GITHUB_OUTPUT"])
	if err != nil {
		t.Fatal(err)
	}
	out := parseGitHubOutput(t, string(raw))
	for k, want := range map[string]string{
		"vulnerabilities-new-high": "1", "vulnerabilities-new-critical": "0", "vulnerabilities-fixed": "1",
		"compare-base": repo + "@" + baseDigest,
	} {
		if out[k] != want {
			t.Errorf("output %s = %q, want %q", k, out[k], want)
		}
	}
	if d, err := strconv.Atoi(out["size-delta-bytes"]); err != nil || d < 2<<20 {
		t.Errorf("output size-delta-bytes = %q, want at least the 2 MiB file", out["size-delta-bytes"])
	}
	mine := api.Mine(pr)
	if len(mine) != 1 {
		t.Fatalf("slipway's comments on #%d: %+v", pr, mine)
	}
	body := mine[0].Body
	for _, want := range []string{
		"### Compared with `" + repo + ":main`", "**+1 HIGH, −1 fixed, +2.", "from its signed attestations",
		"CVE-2099-0010", "CVE-2099-0001", "added `bash` 5.2.15-2+b2", "upgraded `openssl` 3.0.11-1~deb12u1 → 3.0.13-1~deb12u1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the comment lacks %q:\n%s", want, body)
		}
	}

	// The same change as a GitLab merge request: the note (fake GitLab
	// API, its documented endpoints) says the same, and the container
	// scanning report names the default branch's image.
	gl := citest.NewFakeGitLab(t, e2eGitLabToken)
	glEnv := run(prDir, repo, map[string]string{
		"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_SHA": testenv.Git(t, prDir, "rev-parse", "HEAD"),
		"CI_COMMIT_REF_NAME": "feature/login", "CI_DEFAULT_BRANCH": "main",
		"CI_PROJECT_ID": "42", "CI_PROJECT_PATH": "group/app", "CI_PROJECT_URL": "https://gitlab.example.com/group/app",
		"CI_JOB_URL": "https://gitlab.example.com/group/app/-/jobs/9001", "CI_API_V4_URL": gl.URL + "/api/v4",
		"CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_PROJECT_ID": "42", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "42",
		"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
		"CI_JOB_TOKEN": "job-token-value", "SLIPWAY_GITLAB_TOKEN": e2eGitLabToken,
	})
	delete(glEnv, "SLIPWAY_CI")
	glEnv["SLIPWAY_PUSH"], glEnv["SLIPWAY_SEVERITY"], glEnv["SLIPWAY_GATE"] = "true", "HIGH", "new"
	if r := slipway(t, prDir, glEnv, "run"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "CVE-2099-0010 in bash") {
		t.Fatalf("GitLab: exit %d, want 1 at the new gate naming CVE-2099-0010:\n%s", r.code, r.stderr)
	}
	notes := gl.Mine(7)
	if len(notes) != 1 {
		t.Fatalf("slipway's notes on !7: %+v", notes)
	}
	for _, want := range []string{
		"### Compared with `" + repo + ":main`", "**+1 HIGH, −1 fixed, +2.", "from its signed attestations",
		"CVE-2099-0010", "CVE-2099-0001", "added `bash` 5.2.15-2+b2", "upgraded `openssl` 3.0.11-1~deb12u1 → 3.0.13-1~deb12u1",
	} {
		if !strings.Contains(notes[0].Body, want) {
			t.Errorf("the MR note lacks %q:\n%s", want, notes[0].Body)
		}
	}
	var cs struct {
		Vulnerabilities []struct {
			Location struct {
				DefaultBranchImage string `json:"default_branch_image"`
			} `json:"location"`
		} `json:"vulnerabilities"`
	}
	testenv.ReadJSON(t, filepath.Join(glEnv["SLIPWAY_OUTPUT_DIR"], scan.GitLabFile), &cs)
	if len(cs.Vulnerabilities) == 0 || cs.Vulnerabilities[0].Location.DefaultBranchImage != repo+":main" {
		t.Errorf("the container scanning report's default branch image: %+v", cs.Vulnerabilities)
	}

	// A pull request that keeps main's finding passes the new gate.
	keepDir := compareProject(t, mainPkgs, map[string]string{"etc/app.conf": "kept\n"})
	env2 := run(keepDir, repo, gh)
	delete(env2, "SLIPWAY_CI")
	env2["SLIPWAY_PUSH"], env2["SLIPWAY_SEVERITY"], env2["SLIPWAY_GATE"], env2["SLIPWAY_COMMENT"] = "true", "HIGH", "new", "never"
	kept, _ := runResult(t, keepDir, env2)
	if c := kept.Compare; c == nil || !c.Compared || len(c.New) != 0 || len(c.Fixed) != 0 || kept.Scan.Passed {
		t.Errorf("compare %+v, scan passed %v: want no change and the old HIGH finding let through by the new gate", c, kept.Scan.Passed)
	}

	// The other bases, compared with compare-to on a local run.
	publish := func(images string, more map[string]string) {
		dir := compareProject(t, mainPkgs, nil)
		runResult(t, dir, run(dir, images, more))
	}
	unsigned, otherKey := e.UniqueRepo(t, "compared-unsigned"), e.UniqueRepo(t, "compared-other")
	publish(unsigned, map[string]string{"SLIPWAY_SIGN": "false"})
	publish(otherKey, map[string]string{"SLIPWAY_COSIGN_KEY": otherPriv})
	scratch := e.UniqueRepo(t, "compared-scratch")
	for _, c := range []struct {
		base, source, note string
	}{
		{unsigned + ":main", pipeline.FromRemoteScan, "has no slipway attestations"},
		{otherKey + ":main", pipeline.FromRemoteScan, "not signed by this run's key"},
		{repo + ":nope", "", "does not exist"},
	} {
		before := e.Mark(t)
		res, _ := runResult(t, prDir, run(prDir, scratch, map[string]string{"SLIPWAY_COMPARE_TO": c.base}))
		cmp := res.Compare
		if cmp != nil {
			base, _, _ := strings.Cut(c.base, ":main")
			t.Logf("compare-to %s (%s): compare took %s, read %d bytes of blobs from it", c.base, cmp.Source, cmp.Duration,
				blobBytes(e.RegistryRequests(t, before), "/v2"+strings.TrimPrefix(base, e.Registry)+"/blobs/"))
		}
		if cmp == nil || cmp.Source != c.source || !strings.Contains(cmp.Note, c.note) {
			t.Errorf("compare-to %s: %s", c.base, jsonOf(cmp))
			continue
		}
		if c.source != "" && (len(cmp.New) != 1 || cmp.New[0].ID != "CVE-2099-0010" || len(cmp.Fixed) != 1 || cmp.Fixed[0].ID != "CVE-2099-0001") {
			t.Errorf("compare-to %s: new %+v, fixed %+v", c.base, cmp.New, cmp.Fixed)
		}
	}
}

// blobBytes is what the registry sent for the blob GETs under prefix
// (combined log format: the size follows the status).
func blobBytes(reqs []testenv.Request, prefix string) int64 {
	var n int64
	for _, r := range reqs {
		if !r.IsBlobGet() || !strings.HasPrefix(r.Path, prefix) {
			continue
		}
		_, after, _ := strings.Cut(r.Line, `" `+strconv.Itoa(r.Status)+" ")
		f := strings.Fields(after)
		if len(f) > 0 {
			if b, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				n += b
			}
		}
	}
	return n
}

// remoteManifest is the manifest of the image ref in its registry.
func remoteManifest(t *testing.T, ref string) *v1.Manifest {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
