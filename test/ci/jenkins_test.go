package ci

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	const uid = "1000:1000"
	repo := e.UniqueRepo(t, "jenkins")

	// The agent's workspace, checked out by Jenkins, owned by the agent.
	ws := filepath.Join(t.TempDir(), "workspace", "app_main")
	if err := os.MkdirAll(filepath.Dir(ws), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(testenv.GitProject(t, appFiles), ws); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, ws, "remote", "add", "origin", "https://github.com/acme/app.git")
	commit := testenv.Git(t, ws, "rev-parse", "HEAD")
	tmp := ws + "@tmp"

	// withCredentials: secret files in <workspace>@tmp/secretFiles/<uuid>/,
	// the rest as variables.
	const password, registryPassword = "jenkins-cosign-password-91c4", "jenkins-registry-password-2b7a"
	secret := func(name string, data []byte) string {
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, "secretFiles", hex.EncodeToString(id[:]), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o400); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	priv, pub := cosignKeyPair(t, t.TempDir(), password)
	credentials := []string{
		"REGISTRY_USER=ci", "REGISTRY_PASSWORD=" + registryPassword,
		"SLIPWAY_COSIGN_KEY=" + secret("cosign.key", read(priv)),
		"COSIGN_PASSWORD=" + password,
		"BUILDKIT_TLS_CA=" + secret("ca.pem", read(bk.CA)),
		"BUILDKIT_TLS_CERT=" + secret("client.pem", read(bk.ClientCert)),
		"BUILDKIT_TLS_KEY=" + secret("client.key", read(bk.ClientKey)),
	}
	// The fixture DB where the example keeps Trivy's.
	vars := map[string]string{}
	for _, kv := range jf.environment {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = strings.ReplaceAll(v, "${env.WORKSPACE}", ws)
	}
	scanDB(t, vars["SLIPWAY_SCAN_CACHE_DIR"])
	// The example's daemon and registry are this environment's.
	vars["BUILDKIT_HOST"] = bk.Addr
	vars["SLIPWAY_IMAGES"] = repo
	vars["SLIPWAY_BUILD_ARGS"] = "BASE=" + e.BaseImage
	vars["SLIPWAY_SCAN_SKIP_DB_UPDATE"] = "true"
	vars["SLIPWAY_SEVERITY"] = "CRITICAL" // the app's fixture finding is HIGH
	vars["SLIPWAY_TLOG_UPLOAD"] = "false"
	build := map[string]string{
		"JENKINS_URL": "https://jenkins.example.com/", "JOB_NAME": "app/main", "BUILD_NUMBER": "7",
		"BUILD_URL": "https://jenkins.example.com/job/app/job/main/7/", "BRANCH_NAME": "main",
		"GIT_COMMIT": commit, "GIT_URL": "https://github.com/acme/app.git", "GIT_BRANCH": "main",
		"WORKSPACE": ws, "WORKSPACE_TMP": tmp, "NODE_NAME": "docker-agent", "EXECUTOR_NUMBER": "0",
		"HOME": "/home/jenkins", // the agent's, absent from the image
	}
	maps.Copy(build, vars)
	script := filepath.Join(tmp, "durable-"+commit[:8], "script.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(jf.script), 0o644); err != nil {
		t.Fatal(err)
	}
	docker(t, e, "run", "--rm", "-v", filepath.Dir(ws)+":/w", e.RunnerImage, "chown", "-R", uid, "/w")

	run := []string{"run", "-t", "-d", "-u", uid}
	run = append(run, strings.Fields(jf.args)...)
	run = append(run, "--network", "host", "-w", ws, "-v", ws+":"+ws+":rw,z", "-v", tmp+":"+tmp+":rw,z")
	for k, v := range build {
		run = append(run, "-e", k+"="+v)
	}
	cid := docker(t, e, append(run, img.Ref, "cat")...)
	t.Cleanup(func() { docker(t, e, "rm", "-f", cid) })

	exec := []string{"exec", "--workdir", ws}
	for k, v := range build {
		exec = append(exec, "--env", k+"="+v)
	}
	for _, kv := range credentials {
		exec = append(exec, "--env", kv)
	}
	stdout, stderr := dockerOutput(t, e, append(exec, cid, "sh", "-xe", script)...)
	// sh -x traces the export of the registry login with its value, as
	// on Jenkins, which masks the bound secrets in the console: what
	// slipway prints must not show them.
	for _, line := range strings.Split(stdout+"\n"+stderr, "\n") {
		if strings.HasPrefix(line, "+ ") {
			continue
		}
		for _, s := range []string{password, registryPassword} {
			if strings.Contains(line, s) {
				t.Error("slipway's output shows a secret")
			}
		}
	}

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
	summary := string(read(filepath.Join(ws, ".slipway", "slipway-summary.md")))
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
	if owner := docker(t, e, "run", "--rm", "-v", ws+":/w", e.RunnerImage, "stat", "-c", "%u:%g", "/w/.slipway/slipway.env"); owner != uid {
		t.Errorf(".slipway/slipway.env is owned by %s, want the agent's %s", owner, uid)
	}
}
