package ci

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// act runs GitHub workflows with act (nektos/act, pinned in
// hack/testdeps.sh) on the test environment's dockerd, as a GitHub-hosted
// runner runs them as far as act goes: the job in a container of the
// runner image (ubuntu-latest), the workspace bound at its host path, the
// Docker socket mounted into every container, the job's containers on
// the host's network (act's default), act's cache server on 127.0.0.1.
type act struct {
	e      *testenv.Env
	bin    string
	runner string
	home   string
	cache  string // act's cache server's storage
}

func newAct(t *testing.T, e *testenv.Env) *act {
	t.Helper()
	_, runner := e.Docker(t)
	return &act{e: e, bin: testenv.GoTool(t, "act"), runner: runner, home: t.TempDir(), cache: t.TempDir()}
}

// actRun is one `act <event>` in a checkout.
type actRun struct {
	dir      string         // the checkout (the workspace, bound)
	event    string         // push, pull_request
	payload  map[string]any // the event's webhook payload
	workflow string         // the workflow file, relative to dir
	env      map[string]string
	secrets  map[string]string
	// actions maps a remote action (owner/repo@ref) to a directory, as
	// if act had fetched it from GitHub (--local-repository).
	actions map[string]string
	// mounts are directories the job's containers see at the same path.
	mounts []string
	// matrix keeps only the matrix combinations with these key:value
	// pairs (act's --matrix).
	matrix []string
}

// run runs r and returns act's log; it fails the test when act fails.
func (a *act) run(t *testing.T, r actRun) string {
	t.Helper()
	data, err := json.Marshal(r.payload)
	if err != nil {
		t.Fatal(err)
	}
	eventFile := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(eventFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{r.event, "-W", r.workflow, "-e", eventFile,
		"--bind", "--pull=false", "--rm",
		"-P", "ubuntu-latest=" + a.runner, "-P", "ubuntu-24.04=" + a.runner, "-P", "ubuntu-24.04-arm=" + a.runner,
		"--container-daemon-socket", a.e.DockerHost,
		"--cache-server-addr", "127.0.0.1", "--cache-server-path", a.cache,
		"--defaultbranch", "main"}
	var opts []string
	for _, m := range r.mounts {
		opts = append(opts, "-v", m+":"+m)
	}
	if len(opts) > 0 {
		args = append(args, "--container-options", strings.Join(opts, " "))
	}
	for _, k := range slices.Sorted(maps.Keys(r.env)) {
		args = append(args, "--env", k+"="+r.env[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.secrets)) {
		args = append(args, "-s", k+"="+r.secrets[k])
	}
	for _, m := range r.matrix {
		args = append(args, "--matrix", m)
	}
	for _, k := range slices.Sorted(maps.Keys(r.actions)) {
		args = append(args, "--local-repository", k+"="+r.actions[k])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Dir = r.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + a.home, "DOCKER_HOST=" + a.e.DockerHost, "ACT_DISABLE_VERSION_CHECK=1"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("act %s -W %s: %v\n%s", r.event, r.workflow, err, out.String())
	}
	return out.String()
}

// removeBuilder removes the BuildKit container that slipway started
// through the Docker Engine (its default name, slipway-buildkitd, and the
// label slipway puts on what it makes) and its state volume.
func removeBuilder(t *testing.T, e *testenv.Env) {
	for _, id := range strings.Fields(docker(t, e, "ps", "-aq", "--filter", "name=^slipway-buildkitd$", "--filter", "label=slipway.builder=true")) {
		docker(t, e, "rm", "-f", "-v", id)
	}
	for _, v := range strings.Fields(docker(t, e, "volume", "ls", "-q", "--filter", "label=slipway.builder=true")) {
		if v == "slipway-buildkitd-state" {
			docker(t, e, "volume", "rm", v)
		}
	}
}

// copyTree copies the files git knows in src (tracked, and untracked but
// not ignored: the tree a commit of it would hold) into dst, modes kept.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	for _, rel := range strings.Split(testenv.Git(t, src, "ls-files", "-co", "--exclude-standard"), "\n") {
		fi, err := os.Lstat(filepath.Join(src, rel))
		if err != nil {
			if os.IsNotExist(err) { // deleted in the work tree
				continue
			}
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// pushPayload is a push webhook payload (from @octokit/webhooks-examples)
// for ref at sha in the repository owner/name.
func pushPayload(t *testing.T, ref, sha, repo string) map[string]any {
	p := citest.Payload(t, "push", func(p map[string]any) bool { return p["deleted"] == false })
	owner, name, _ := strings.Cut(repo, "/")
	p["ref"], p["after"], p["created"], p["deleted"], p["base_ref"] = ref, sha, true, false, nil
	citest.Set(p, "head_commit.id", sha)
	citest.Set(p, "repository.full_name", repo)
	citest.Set(p, "repository.html_url", "https://github.com/"+repo)
	citest.Set(p, "repository.clone_url", "https://github.com/"+repo+".git")
	citest.Set(p, "repository.name", name)
	citest.Set(p, "repository.owner.login", owner)
	citest.Set(p, "repository.owner.name", owner)
	citest.Set(p, "repository.default_branch", "main")
	citest.Set(p, "repository.master_branch", "main")
	return p
}

const actToken = "ghp_act_e2e_token_7c0ffee0123456789"

var (
	showDigest = regexp.MustCompile(`\| digest: (sha256:[0-9a-f]{64})`)
	// act logs a step's job summary (GITHUB_STEP_SUMMARY) as
	// "⚙  Summary - <its first line>".
	actSummary = regexp.MustCompile(`(?m)Summary - (.*)$`)
)

// GitHub Actions under act, in the order a release happens:
//
//  1. release: .github/workflows/release.yml runs on a tag push of a
//     copy of this repository. Its slipway step is the previous release
//     (slipway-ci/slipway@v1, here the action pinned to the image of make
//     image) and builds this tree's image on the test environment's
//     BuildKit, over TCP; hack/release.sh commits action.yml pinned to the
//     new digest and moves v1.2.3 and v1 in origin.
//  2. push and pull_request: the example workflow
//     (examples/github/workflow.yml, less its artifact upload, which act
//     cannot fetch) runs slipway-ci/slipway@v1, the action file the
//     release produced, on a multi-stage, multi-platform app: slipway
//     finds the runner's Docker socket, starts its BuildKit container
//     through it, builds, scans, signs, pushes and tags on push; on the
//     pull request it pushes nothing and posts the sticky comment to a
//     fake GitHub API (GITHUB_API_URL), checked against GitHub's OpenAPI
//     description. A later step of the job reads slipway's outputs.
//
// What act does not do as GitHub does (README, "GitHub Actions under act")
// is given to it with --env: no OIDC token (a key signs instead), no
// GITHUB_API_URL of our choosing, no ACTIONS_RUNTIME_TOKEN without its
// artifact server.
func TestGitHubActionsUnderAct(t *testing.T) {
	e := testenv.Get(t)
	img := e.SlipwayImage(t)
	a := newAct(t, e)
	e.LockDockerBuilder(t)
	t.Cleanup(func() { removeBuilder(t, e) })

	// Inputs the job's containers read, at the same path: the scan's DB,
	// the signing key.
	inputs := t.TempDir()
	scanDB(t, filepath.Join(inputs, "trivy"))
	const password = "act-cosign-password-0d9e"
	priv, pub := cosignKeyPair(t, inputs, password)
	signing := map[string]string{
		"SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": password, "SLIPWAY_TLOG_UPLOAD": "false",
		"SLIPWAY_SCAN_CACHE_DIR": filepath.Join(inputs, "trivy"), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
	}
	api := citest.NewFakeGitHub(t, "", actToken)

	// 1. The release.
	const tag = "v1.2.3"
	origin := filepath.Join(t.TempDir(), "slipway.git")
	testenv.Git(t, filepath.Dir(origin), "init", "-q", "--bare", origin)
	src := t.TempDir()
	copyTree(t, testenv.RepoRoot(t), src)
	testenv.Git(t, src, "init", "-q", "-b", "main")
	testenv.Git(t, src, "add", ".")
	testenv.Git(t, src, "commit", "-q", "-m", "slipway")
	testenv.Git(t, src, "tag", "-a", tag, "-m", tag)
	testenv.Git(t, src, "remote", "add", "origin", origin)
	testenv.Git(t, src, "push", "-q", "origin", "main", "refs/tags/"+tag)
	ws := t.TempDir()
	testenv.Git(t, ws, "clone", "-q", origin, ".")
	testenv.Git(t, ws, "checkout", "-q", "refs/tags/"+tag)
	tagged := testenv.Git(t, ws, "rev-parse", "HEAD")

	// The previous release: this tree's action pinned to the image.
	previous := pinnedAction(t, img.Ref)

	releaseRepo := e.UniqueRepo(t, "slipway")
	env := map[string]string{
		"GITHUB_REPOSITORY": "slipway-ci/slipway", "GITHUB_API_URL": api.URL,
		"SLIPWAY_IMAGES": releaseRepo, "SLIPWAY_PLATFORMS": strings.Join(img.Platforms, ","),
		// build-contexts is a newline-separated list, as build-push-action's.
		"SLIPWAY_BUILD_CONTEXTS": strings.Join(img.BuildContexts, "\n"), "BUILDKIT_HOST": e.BuildkitTCP,
	}
	for k, v := range signing {
		env[k] = v
	}
	log := a.run(t, actRun{
		dir: ws, event: "push", payload: pushPayload(t, "refs/tags/"+tag, tagged, "slipway-ci/slipway"),
		workflow: ".github/workflows/release.yml", env: env, secrets: map[string]string{"GITHUB_TOKEN": actToken},
		actions: map[string]string{"slipway-ci/slipway@v1": previous},
		mounts:  []string{origin, inputs},
	})
	checkNoSecret(t, log, actToken, password)
	release := testenv.Git(t, origin, "rev-parse", "refs/tags/"+tag+"^{commit}")
	if major := testenv.Git(t, origin, "rev-parse", "refs/tags/v1^{commit}"); major != release {
		t.Errorf("v1 is %s, %s is %s", major, tag, release)
	}
	if parent := testenv.Git(t, origin, "rev-parse", release+"^"); parent != tagged {
		t.Fatalf("the release commit's parent is %s, want the tagged commit %s\n%s", parent, tagged, log)
	}
	pinned := testenv.Git(t, origin, "show", release+":action.yml")
	m := regexp.MustCompile(`(?m)^  image: docker://(` + regexp.QuoteMeta(releaseRepo) + `@(sha256:[0-9a-f]{64}))$`).FindStringSubmatch(pinned)
	if m == nil {
		t.Fatalf("the released action.yml pins no image of %s:\n%s\n%s", releaseRepo, pinned, log)
	}
	released, digest := m[1], m[2]
	for _, tg := range []string{"1.2.3", "1.2", "1"} {
		if got := testenv.TagDigest(t, releaseRepo+":"+tg); got != digest {
			t.Errorf("%s:%s is %s, the released digest %s", releaseRepo, tg, got, digest)
		}
	}
	verifySigned(t, pub, released)
	if v := docker(t, e, "run", "--rm", "--network", "host", released, "version"); !strings.Contains(v, tag) {
		t.Errorf("the released image's version is %q, want %s", v, tag)
	}
	if !strings.Contains(log, "Summary - ### slipway "+tag) {
		t.Errorf("the release job's summary is not in act's log:\n%s", log)
	}

	// 2. The example workflow, with the action the release produced.
	v1 := t.TempDir()
	testenv.Git(t, v1, "clone", "-q", origin, ".")
	testenv.Git(t, v1, "checkout", "-q", "refs/tags/v1")
	wf, err := os.ReadFile(filepath.Join(src, "examples", "github", "workflow.yml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{".github/workflows/image.yml": withoutStep(t, string(wf), "Keep slipway's reports")}
	for k, v := range appFiles {
		files[k] = v
	}
	app := testenv.GitProject(t, files)
	testenv.Git(t, app, "remote", "add", "origin", "https://github.com/acme/app.git")
	head := testenv.Git(t, app, "rev-parse", "HEAD")
	appRepo := e.UniqueRepo(t, "act-app")
	appEnv := map[string]string{
		"GITHUB_API_URL": api.URL, "SLIPWAY_IMAGES": appRepo, "SLIPWAY_BUILDKIT_IMAGE": e.BuildkitImage,
		"SLIPWAY_BUILD_ARGS": "BASE=" + e.LocalhostRef(e.BaseImage),
		// The example's gate (CRITICAL,HIGH) would stop the app's HIGH
		// fixture finding.
		"SLIPWAY_SEVERITY": "CRITICAL",
		// act sets a runtime token only with its artifact server, which
		// also sets ACTIONS_RESULTS_URL (the v2 cache service, which act
		// does not serve): its cache server takes the one act would make.
		"ACTIONS_RUNTIME_TOKEN": actionsRuntimeToken(t),
	}
	for k, v := range signing {
		appEnv[k] = v
	}
	run := actRun{
		dir: app, workflow: ".github/workflows/image.yml", env: appEnv,
		secrets: map[string]string{"GITHUB_TOKEN": actToken},
		actions: map[string]string{"slipway-ci/slipway@v1": v1},
		mounts:  []string{inputs},
	}

	t.Run("push", func(t *testing.T) {
		r := run
		r.event, r.payload = "push", pushPayload(t, "refs/heads/main", head, "acme/app")
		log := a.run(t, r)
		checkNoSecret(t, log, actToken, password)
		if !strings.Contains(log, released) {
			t.Errorf("act did not run the released image %s:\n%s", released, log)
		}
		if !strings.Contains(log, "builder: a BuildKit container") {
			t.Errorf("slipway did not start its BuildKit through the runner's Docker socket:\n%s", log)
		}
		dm := showDigest.FindStringSubmatch(log)
		if dm == nil {
			t.Fatalf("the step after slipway printed no digest output:\n%s", log)
		}
		if got := testenv.TagDigest(t, appRepo+":main"); got != dm[1] {
			t.Errorf("%s:main is %s, the digest output %s", appRepo, got, dm[1])
		}
		if tags := imageTags(t, appRepo); !slices.Equal(tags, []string{"main", "sha-" + head[:7]}) {
			t.Errorf("tags %q, want main and sha-%s", tags, head[:7])
		}
		verifySigned(t, pub, appRepo+"@"+dm[1])
		if s := actSummary.FindStringSubmatch(log); s == nil || !strings.Contains(s[1], "slipway: passed") {
			t.Errorf("slipway's job summary is not in act's log:\n%s", log)
		}
		// cache-to: type=gha went to act's cache server.
		entries := 0
		_ = filepath.WalkDir(a.cache, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				entries++
			}
			return nil
		})
		if entries == 0 {
			t.Errorf("act's cache server holds nothing after cache-to: type=gha:\n%s", log)
		}
	})

	t.Run("pull_request", func(t *testing.T) {
		r := run
		p := citest.Payload(t, "pull_request", citest.Action("opened"))
		citest.Set(p, "pull_request.head.sha", head)
		citest.Set(p, "pull_request.head.ref", "feature")
		citest.Set(p, "pull_request.base.ref", "main")
		citest.Set(p, "repository.full_name", "acme/app")
		citest.Set(p, "pull_request.head.repo.full_name", "acme/app")
		citest.Set(p, "pull_request.base.repo.full_name", "acme/app")
		pr := int(citest.Get(p, "pull_request.number").(float64))
		r.event, r.payload = "pull_request", p
		before := imageTags(t, appRepo)
		log := a.run(t, r)
		checkNoSecret(t, log, actToken, password)
		if showDigest.FindStringSubmatch(log) == nil {
			t.Errorf("the step after slipway printed no digest output:\n%s", log)
		}
		if after := imageTags(t, appRepo); !slices.Equal(after, before) || slices.Contains(after, "pr-"+strconv.Itoa(pr)) {
			t.Errorf("a pull request moved tags: %q, were %q", after, before)
		}
		mine := api.Mine(pr)
		if len(mine) != 1 || !strings.Contains(mine[0].Body, "<!-- slipway:sticky:"+appRepo+" -->") || !strings.Contains(mine[0].Body, fixtureCVE) {
			t.Errorf("slipway's comments on #%d: %+v, want one with its marker and %s\n%s", pr, mine, fixtureCVE, log)
		}
	})
}

// actionsRuntimeToken is a runtime token as act makes one for its
// artifact server (pkg/common/auth.go): a JWT, HS256 with an empty key,
// that lets the cache be written in every scope. BuildKit's gha cache
// reads its scopes; act's cache server checks nothing.
func actionsRuntimeToken(t *testing.T) string {
	t.Helper()
	ac, err := json.Marshal([]map[string]any{{"Scope": "", "Permission": 2}})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{
		"nbf": 0, "exp": 4102444800, // 2100-01-01
		"scp": "Actions.Results:1:1", "TaskID": 1, "RunID": 1, "JobID": 1, "ac": string(ac),
	})
	if err != nil {
		t.Fatal(err)
	}
	signed := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, nil)
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

// withoutStep drops the step named name from a workflow's text.
func withoutStep(t *testing.T, wf, name string) string {
	t.Helper()
	start := strings.Index(wf, "      - name: "+name+"\n")
	if start < 0 {
		t.Fatalf("the workflow has no step %q", name)
	}
	end := strings.Index(wf[start+1:], "\n      - ")
	if end < 0 {
		return wf[:start]
	}
	return wf[:start] + wf[start+1+end+1:]
}

// checkNoSecret fails the test when log shows one of secrets.
func checkNoSecret(t *testing.T, log string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Error("act's log shows a secret")
		}
	}
}

// pinnedAction is this checkout's action.yml with the slipway image by
// reference in place of its Dockerfile, in a directory of its own: the
// action as a release pins it.
func pinnedAction(t *testing.T, image string) string {
	t.Helper()
	action, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(action, []byte("\n  image: Dockerfile\n")) {
		t.Fatal("action.yml does not say image: Dockerfile")
	}
	dir := t.TempDir()
	action = bytes.Replace(action, []byte("\n  image: Dockerfile\n"), []byte("\n  image: docker://"+image+"\n"), 1)
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), action, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

var actPartialOutput = regexp.MustCompile(`::set-output:: linux-amd64=(linux/amd64 (sha256:[0-9a-f]{64}) sha256:[0-9a-f]{64})`)

// The GitHub matrix example (examples/github/matrix.yml) under act, as
// shipped but for its amd64 entry only (act's --matrix): the platform job
// runs the action with partial: true, its result step writes the
// platform-named output, and the merge job runs the action with command:
// merge and from: the job's outputs; the index is tagged, signed and
// holds the platform job's manifest. One entry, because act keeps one set
// of outputs for a matrix's jobs, which the first job to finish fixes
// (nektos/act#981, pkg/runner/run_context.go interpolateOutputs: the
// other platforms' outputs become empty): under act the merge would see
// one platform of two, and refuses that index (platforms). Two platforms
// merged from separate runs are TestGitLabMatrixThenMerge's (and
// cmd/slipway's TestPartialRunsThenMerge).
func TestGitHubMatrixUnderAct(t *testing.T) {
	e := testenv.Get(t)
	img := e.SlipwayImage(t)
	a := newAct(t, e)

	inputs := t.TempDir()
	scanDB(t, filepath.Join(inputs, "trivy"))
	const password = "act-matrix-password-3f1a"
	_, pub := cosignKeyPair(t, inputs, password)
	api := citest.NewFakeGitHub(t, "", actToken)

	wf, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "examples", "github", "matrix.yml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{".github/workflows/image.yml": string(wf)}
	for k, v := range appFiles {
		files[k] = v
	}
	app := testenv.GitProject(t, files)
	testenv.Git(t, app, "remote", "add", "origin", "https://github.com/acme/app.git")
	head := testenv.Git(t, app, "rev-parse", "HEAD")
	repo := e.UniqueRepo(t, "act-matrix")
	env := map[string]string{
		"GITHUB_API_URL": api.URL, "SLIPWAY_IMAGES": repo, "BUILDKIT_HOST": e.BuildkitTCP,
		"SLIPWAY_BUILD_ARGS": "BASE=" + e.LocalhostRef(e.BaseImage), "SLIPWAY_SEVERITY": "CRITICAL",
		// The platforms act runs (the merge checks its from against them).
		"SLIPWAY_PLATFORMS": "linux/amd64",
		// The example's type=gha cache, per platform, in act's cache
		// server (see TestGitHubActionsUnderAct).
		"ACTIONS_RUNTIME_TOKEN": actionsRuntimeToken(t),
		"SLIPWAY_COSIGN_KEY":    filepath.Join(inputs, "cosign.key"), "COSIGN_PASSWORD": password, "SLIPWAY_TLOG_UPLOAD": "false",
		"SLIPWAY_SCAN_CACHE_DIR": filepath.Join(inputs, "trivy"), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
	}
	log := a.run(t, actRun{
		dir: app, workflow: ".github/workflows/image.yml", event: "push",
		payload: pushPayload(t, "refs/heads/main", head, "acme/app"),
		env:     env, secrets: map[string]string{"GITHUB_TOKEN": actToken},
		actions: map[string]string{"slipway-ci/slipway@v1": pinnedAction(t, img.Ref)},
		mounts:  []string{inputs}, matrix: []string{"platform:linux/amd64"},
	})
	checkNoSecret(t, log, actToken, password)
	pm := actPartialOutput.FindStringSubmatch(log)
	if pm == nil {
		t.Fatalf("the platform job wrote no linux-amd64 output:\n%s", log)
	}
	if !strings.Contains(log, "merged 1 platforms into "+repo+"@") {
		t.Errorf("the merge job did not merge the platform job's result:\n%s", log)
	}
	dm := showDigest.FindStringSubmatch(log)
	if dm == nil {
		t.Fatalf("the merge job's last step printed no digest output:\n%s", log)
	}
	if got := testenv.TagDigest(t, repo+":main"); got != dm[1] {
		t.Errorf("%s:main is %s, the merge's digest output %s", repo, got, dm[1])
	}
	if tags := imageTags(t, repo); !slices.Equal(tags, []string{"main", "sha-" + head[:7]}) {
		t.Errorf("tags %q, want main and sha-%s", tags, head[:7])
	}
	var platforms []string
	for p, img := range platformImages(t, repo+"@"+dm[1]) {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		platforms = append(platforms, p+" "+d.String())
	}
	if want := []string{"linux/amd64 " + pm[2]}; !slices.Equal(platforms, want) {
		t.Errorf("the index holds %q, want the platform job's %q", platforms, want)
	}
	verifySigned(t, pub, repo+"@"+dm[1])
}
