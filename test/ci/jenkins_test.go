package ci

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/report"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// jenkinsfile is what the example Jenkinsfile asks of its docker agent.
type jenkinsfile struct {
	image, args string
	environment []string // KEY=value, in order, ${env.WORKSPACE} not yet expanded
	script      string   // the sh step's script
}

var (
	jfImage = regexp.MustCompile(`(?m)^\s*image '([^']+)'`)
	jfArgs  = regexp.MustCompile(`(?m)^\s*args '([^']*)'`)
	jfEnv   = regexp.MustCompile(`(?s)\n  environment \{\n(.*?)\n  \}`)
	jfVar   = regexp.MustCompile(`^\s*([A-Z_][A-Z0-9_]*) = (?:'([^']*)'|"([^"]*)")\s*$`)
	jfSh    = regexp.MustCompile(`(?s)\bsh '''\n(.*?)'''`)
)

func readJenkinsfile(t *testing.T) jenkinsfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "examples", "jenkins", "Jenkinsfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	var jf jenkinsfile
	for re, dst := range map[*regexp.Regexp]*string{jfImage: &jf.image, jfArgs: &jf.args, jfSh: &jf.script} {
		m := re.FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("the example Jenkinsfile has no %s", re)
		}
		*dst = m[1]
	}
	m := jfEnv.FindStringSubmatch(src)
	if m == nil {
		t.Fatal("the example Jenkinsfile has no environment block")
	}
	for _, line := range strings.Split(m[1], "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		v := jfVar.FindStringSubmatch(line)
		if v == nil {
			t.Fatalf("environment line %q: not KEY = 'value'", line)
		}
		jf.environment = append(jf.environment, v[1]+"="+v[2]+v[3])
	}
	return jf
}

// Jenkins: the example Jenkinsfile's docker agent, run as the
// docker-workflow plugin runs it: `docker run -t -d -u <agent uid:gid>
// <args> -w <workspace> -v <workspace>:<workspace> -v <workspace>@tmp:…
// <image> cat`, then its sh step through `docker exec` with the build's
// variables, the environment block, and the withCredentials bindings
// (secret files under <workspace>@tmp/secretFiles). The image is the
// slipway image by digest in place of the example's tag, the builder a
// BuildKit daemon over mutual TLS as in the example, and the agent's user
// is not root and has no home in the image. The container is on the
// host's network (--network host added to the example's args): the test
// dockerd has no bridge.
func TestJenkinsDockerAgent(t *testing.T) {
	e := testenv.Get(t)
	e.Docker(t)
	img := e.SlipwayImage(t)
	jf := readJenkinsfile(t)
	if jf.args != "--entrypoint=" {
		t.Errorf("the example's agent args are %q, want --entrypoint= (Jenkins runs cat in the container)", jf.args)
	}
	bk := e.StartBuildkitd(t, true)
	repo := e.UniqueRepo(t, "jenkins")
	a := newJenkinsAgent(t, e, "app_main")
	ws := a.ws

	const password, registryPassword = "jenkins-cosign-password-91c4", "jenkins-registry-password-2b7a"
	priv, pub := cosignKeyPair(t, t.TempDir(), password)
	credentials := []string{
		"REGISTRY_USER=ci", "REGISTRY_PASSWORD=" + registryPassword,
		"SLIPWAY_COSIGN_KEY=" + a.secretFile(priv),
		"COSIGN_PASSWORD=" + password,
	}
	credentials = append(credentials, a.buildkitCredentials(bk)...)
	// The fixture DB where the example keeps Trivy's.
	vars := a.environment(jf.environment)
	scanDB(t, vars["SLIPWAY_SCAN_CACHE_DIR"])
	// The example's daemon and registry are this environment's.
	vars["BUILDKIT_HOST"] = bk.Addr
	vars["SLIPWAY_IMAGES"] = repo
	vars["SLIPWAY_BUILD_ARGS"] = "BASE=" + e.BaseImage
	vars["SLIPWAY_SCAN_SKIP_DB_UPDATE"] = "true"
	vars["SLIPWAY_SEVERITY"] = "CRITICAL" // the app's fixture finding is HIGH
	vars["SLIPWAY_TLOG_UPLOAD"] = "false"
	a.start(img.Ref, jf.args, vars)
	a.sh(jf.script, credentials, password, registryPassword)

	// What the example archives, and the image in the registry.
	res := testenv.ReadDotenv(t, filepath.Join(ws, ".slipway", "slipway.env"))
	digest := res["SLIPWAY_RESULT_DIGEST"]
	if res["SLIPWAY_RESULT_STATUS"] != "passed" || res["SLIPWAY_RESULT_PLATFORMS"] != "linux/amd64,linux/arm64" || res["SLIPWAY_RESULT_VULNERABILITIES_HIGH"] != "1" {
		t.Errorf("slipway.env: %v", res)
	}
	for _, f := range []string{"slipway-report.json", "trivy-results.sarif", "slipway-summary.md"} {
		data, err := os.ReadFile(filepath.Join(ws, ".slipway", f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, s := range []string{password, registryPassword} {
			if strings.Contains(string(data), s) {
				t.Errorf("%s holds a secret", f)
			}
		}
	}
	summary := readString(t, filepath.Join(ws, ".slipway", "slipway-summary.md"))
	for _, want := range []string{digest, "Jenkins", fixtureCVE} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
	if got := testenv.TagDigest(t, repo+":main"); got != digest {
		t.Errorf("%s:main is %s, the run's digest %s", repo, got, digest)
	}
	verifySigned(t, pub, repo+"@"+digest)
	// The files the agent wrote are the agent's.
	if owner := docker(t, e, "run", "--rm", "-v", ws+":/w", e.RunnerImage, "stat", "-c", "%u:%g", "/w/.slipway/slipway.env"); owner != jenkinsUID {
		t.Errorf(".slipway/slipway.env is owned by %s, want the agent's %s", owner, jenkinsUID)
	}
}

// jenkinsUID is the agent's user: not root, no home in the image.
const jenkinsUID = "1000:1000"

// jenkinsAgent is one docker agent of a Jenkins build, run as the
// docker-workflow plugin runs it: `docker run -t -d -u <agent uid:gid>
// <args> -w <workspace> -v <workspace>:<workspace> -v <workspace>@tmp:…
// <image> cat`, then each sh step through `docker exec` with the build's
// variables, the environment blocks, and the withCredentials bindings
// (secret files under <workspace>@tmp/secretFiles). The container is on
// the host's network (--network host added to the example's args): the
// test dockerd has no bridge.
type jenkinsAgent struct {
	t      *testing.T
	e      *testenv.Env
	ws     string // the workspace, the app checked out by Jenkins
	tmp    string // <workspace>@tmp
	commit string
	build  map[string]string // the build's variables, the environment's
	cid    string
}

// newJenkinsAgent checks the app out into the workspace of job on a
// node of its own.
func newJenkinsAgent(t *testing.T, e *testenv.Env, job string) *jenkinsAgent {
	t.Helper()
	a := &jenkinsAgent{t: t, e: e, ws: filepath.Join(t.TempDir(), "workspace", job)}
	a.tmp = a.ws + "@tmp"
	if err := os.MkdirAll(filepath.Dir(a.ws), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(testenv.GitProject(t, appFiles), a.ws); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, a.ws, "remote", "add", "origin", "https://github.com/acme/app.git")
	a.commit = testenv.Git(t, a.ws, "rev-parse", "HEAD")
	return a
}

// environment is an environment block's KEY=value lines as variables,
// ${env.WORKSPACE} expanded.
func (a *jenkinsAgent) environment(lines []string) map[string]string {
	vars := map[string]string{}
	for _, kv := range lines {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = strings.ReplaceAll(v, "${env.WORKSPACE}", a.ws)
	}
	return vars
}

// secretFile binds a copy of the file src as withCredentials binds a
// secret file credential, and returns its path.
func (a *jenkinsAgent) secretFile(src string) string {
	a.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		a.t.Fatal(err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		a.t.Fatal(err)
	}
	p := filepath.Join(a.tmp, "secretFiles", hex.EncodeToString(id[:]), filepath.Base(src))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		a.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o400); err != nil {
		a.t.Fatal(err)
	}
	return p
}

// buildkitCredentials are the bindings of bk's CA, client certificate
// and key as secret files.
func (a *jenkinsAgent) buildkitCredentials(bk *testenv.Buildkitd) []string {
	return []string{
		"BUILDKIT_TLS_CA=" + a.secretFile(bk.CA),
		"BUILDKIT_TLS_CERT=" + a.secretFile(bk.ClientCert),
		"BUILDKIT_TLS_KEY=" + a.secretFile(bk.ClientKey),
	}
}

// start runs the agent's container of image with the agent's args and
// the build's variables, vars among them.
func (a *jenkinsAgent) start(image, args string, vars map[string]string) {
	a.t.Helper()
	a.build = map[string]string{
		"JENKINS_URL": "https://jenkins.example.com/", "JOB_NAME": "app/main", "BUILD_NUMBER": "7",
		"BUILD_URL": "https://jenkins.example.com/job/app/job/main/7/", "BRANCH_NAME": "main",
		"GIT_COMMIT": a.commit, "GIT_URL": "https://github.com/acme/app.git", "GIT_BRANCH": "main",
		"WORKSPACE": a.ws, "WORKSPACE_TMP": a.tmp, "NODE_NAME": "docker-agent", "EXECUTOR_NUMBER": "0",
		"HOME": "/home/jenkins", // the agent's, absent from the image
	}
	maps.Copy(a.build, vars)
	if err := os.MkdirAll(a.tmp, 0o755); err != nil {
		a.t.Fatal(err)
	}
	docker(a.t, a.e, "run", "--rm", "-v", filepath.Dir(a.ws)+":/w", a.e.RunnerImage, "chown", "-R", jenkinsUID, "/w")
	run := []string{"run", "-t", "-d", "-u", jenkinsUID}
	run = append(run, strings.Fields(args)...)
	run = append(run, "--network", "host", "-w", a.ws, "-v", a.ws+":"+a.ws+":rw,z", "-v", a.tmp+":"+a.tmp+":rw,z")
	for k, v := range a.build {
		run = append(run, "-e", k+"="+v)
	}
	a.cid = docker(a.t, a.e, append(run, image, "cat")...)
	a.t.Cleanup(func() { docker(a.t, a.e, "rm", "-f", a.cid) })
}

// sh runs script as an sh step with the variables env (withEnv and
// withCredentials bindings) and returns its standard output. sh -x
// traces the export of the registry login with its value, as on Jenkins,
// which masks the bound secrets in the console: what slipway prints must
// not show secrets.
func (a *jenkinsAgent) sh(script string, env []string, secrets ...string) string {
	a.t.Helper()
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		a.t.Fatal(err)
	}
	path := filepath.Join(a.tmp, "durable-"+hex.EncodeToString(id[:]), "script.sh")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		a.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		a.t.Fatal(err)
	}
	exec := []string{"exec", "--workdir", a.ws}
	for k, v := range a.build {
		exec = append(exec, "--env", k+"="+v)
	}
	for _, kv := range env {
		exec = append(exec, "--env", kv)
	}
	stdout, stderr := dockerOutput(a.t, a.e, append(exec, a.cid, "sh", "-xe", path)...)
	for _, line := range strings.Split(stdout+"\n"+stderr, "\n") {
		if strings.HasPrefix(line, "+ ") {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				a.t.Error("slipway's output shows a secret")
			}
		}
	}
	return stdout
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var (
	jfPartialFunc = regexp.MustCompile(`(?s)\nString partial\(String platform\) \{\n(.*?)\n\}\n`)
	jfWithEnv     = regexp.MustCompile(`(?s)withEnv\(\[\n(.*?)\n\s*\]\)`)
	jfEnvEntry    = regexp.MustCompile(`^\s*(?:"([^"]*)"|'([^']*)'),$`)
	jfReturnSh    = regexp.MustCompile(`sh\(returnStdout: true, script: '([^']*)'\)`)
	jfStage       = regexp.MustCompile(`(?s)stage\('Merge'\) \{\n(.*)`)
)

// The parallel Jenkins example (examples/jenkins/Jenkinsfile.parallel)
// with each stage's agent run as TestJenkinsDockerAgent runs one: per
// platform, on a workspace of its own (another node), its sh steps with
// partial()'s withEnv and credentials, the BuildKit daemon of that
// platform only (--oci-worker-platform) over mTLS; the grep of partial()
// returns the result line; the merge stage's sh step then runs with the
// lines as its environment (withEnv(partialResults.values())). The
// stages run one after the other here (the docker CLI calls fail the
// test from its goroutine only).
func TestJenkinsParallelAgents(t *testing.T) {
	e := testenv.Get(t)
	e.Docker(t)
	img := e.SlipwayImage(t)
	src := readString(t, filepath.Join(testenv.RepoRoot(t), "examples", "jenkins", "Jenkinsfile.parallel"))
	find := func(re *regexp.Regexp, in string) string {
		t.Helper()
		m := re.FindStringSubmatch(in)
		if m == nil {
			t.Fatalf("the parallel Jenkinsfile has no %s", re)
		}
		return m[1]
	}
	partialFn := find(jfPartialFunc, src)
	runScript, grepScript := find(jfSh, partialFn), find(jfReturnSh, partialFn)
	mergeScript := find(jfSh, find(jfStage, src))
	var withEnv []string
	for _, line := range strings.Split(find(jfWithEnv, partialFn), "\n") {
		if m := jfEnvEntry.FindStringSubmatch(line); m != nil {
			withEnv = append(withEnv, m[1]+m[2])
		}
	}
	var pipelineEnv []string
	for _, line := range strings.Split(find(jfEnv, src), "\n") {
		if v := jfVar.FindStringSubmatch(line); v != nil {
			pipelineEnv = append(pipelineEnv, v[1]+"="+v[2]+v[3])
		}
	}

	repo := e.UniqueRepo(t, "jenkins-parallel")
	const password, registryPassword = "jenkins-parallel-password-5e02", "jenkins-registry-password-c4d1"
	registry := []string{"REGISTRY_USER=ci", "REGISTRY_PASSWORD=" + registryPassword}
	common := func(a *jenkinsAgent) map[string]string {
		vars := a.environment(pipelineEnv)
		vars["SLIPWAY_IMAGES"] = repo
		vars["SLIPWAY_BUILD_ARGS"] = "BASE=" + e.BaseImage
		vars["SLIPWAY_SCAN_SKIP_DB_UPDATE"] = "true"
		vars["SLIPWAY_SEVERITY"] = "CRITICAL" // the app's fixture finding is HIGH
		vars["SLIPWAY_TLOG_UPLOAD"] = "false"
		return vars
	}
	var results []string
	manifests := map[string]string{}
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		bk := e.StartBuildkitdWith(t, testenv.BuildkitdOptions{TLS: true, Platforms: []string{platform}})
		a := newJenkinsAgent(t, e, "app_main_"+strings.ReplaceAll(platform, "/", "_"))
		creds := append(slices.Clone(registry), a.buildkitCredentials(bk)...)
		vars := common(a)
		vars["BUILDKIT_HOST"] = bk.Addr
		// partial()'s withEnv, its Groovy expressions evaluated.
		env := slices.Clone(creds)
		for _, kv := range withEnv {
			kv = strings.NewReplacer("${platform}", platform, "${platform.replace('/', '-')}", strings.ReplaceAll(platform, "/", "-"), "${env.WORKSPACE}", a.ws).Replace(kv)
			if strings.Contains(kv, "${") {
				t.Fatalf("partial()'s withEnv entry %q: an expression the test does not evaluate", kv)
			}
			env = append(env, kv)
			if k, v, _ := strings.Cut(kv, "="); k == "SLIPWAY_SCAN_CACHE_DIR" {
				scanDB(t, v)
			}
		}
		a.start(img.Ref, "--entrypoint=", vars)
		a.sh(runScript, env, registryPassword)
		line := strings.TrimSpace(a.sh(grepScript, env))
		k, v, ok := strings.Cut(line, "=")
		if !ok || k != report.PartialEnvName(platform) || !strings.HasPrefix(v, platform+" sha256:") {
			t.Fatalf("the %s stage's result is %q", platform, line)
		}
		manifests[platform] = strings.Fields(v)[1]
		results = append(results, line)
	}

	m := newJenkinsAgent(t, e, "app_main_merge")
	priv, pub := cosignKeyPair(t, t.TempDir(), password)
	env := append(slices.Clone(registry), "SLIPWAY_COSIGN_KEY="+m.secretFile(priv), "COSIGN_PASSWORD="+password)
	m.start(img.Ref, "--entrypoint=", common(m))
	m.sh(mergeScript, append(env, results...), password, registryPassword)

	// The fixture finding is in both platforms, counted once.
	res := testenv.ReadDotenv(t, filepath.Join(m.ws, ".slipway", "slipway.env"))
	digest := res["SLIPWAY_RESULT_DIGEST"]
	if res["SLIPWAY_RESULT_STATUS"] != "passed" || res["SLIPWAY_RESULT_PLATFORMS"] != "linux/amd64,linux/arm64" || res["SLIPWAY_RESULT_VULNERABILITIES_HIGH"] != "1" {
		t.Errorf("the merge's slipway.env: %v", res)
	}
	if got := testenv.TagDigest(t, repo+":main"); got != digest {
		t.Errorf("%s:main is %s, the merge's digest %s", repo, got, digest)
	}
	got := map[string]string{}
	for p, pi := range platformImages(t, repo+"@"+digest) {
		d, err := pi.Digest()
		if err != nil {
			t.Fatal(err)
		}
		got[p] = d.String()
	}
	if !maps.Equal(got, manifests) {
		t.Errorf("the index holds %v, the stages built %v", got, manifests)
	}
	verifySigned(t, pub, repo+"@"+digest)
}
