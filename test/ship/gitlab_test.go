package ship

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/config"
	"github.com/slipway-ci/slipway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the GitLab example's integrity hash")

const (
	templatePath       = ".gitlab/slipway.gitlab-ci.yml"
	matrixTemplatePath = ".gitlab/slipway-matrix.gitlab-ci.yml"
	examplePath        = "examples/gitlab/.gitlab-ci.yml"
)

type specInput struct {
	Description string    `yaml:"description"`
	Type        string    `yaml:"type"`
	Default     yaml.Node `yaml:"default"`
	Options     []string  `yaml:"options"`
}

// template reads the GitLab template's two documents: the spec's inputs
// (in order) and the jobs.
func template(t *testing.T) (names []string, inputs map[string]specInput, jobs map[string]yaml.Node) {
	t.Helper()
	return templateAt(t, templatePath)
}

// templateAt reads the two documents of the GitLab template at path.
func templateAt(t *testing.T, templatePath string) (names []string, inputs map[string]specInput, jobs map[string]yaml.Node) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), templatePath))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var spec struct {
		Spec struct {
			Inputs yaml.Node `yaml:"inputs"`
		} `yaml:"spec"`
	}
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("%s: the spec document: %v", templatePath, err)
	}
	inputs = map[string]specInput{}
	in := spec.Spec.Inputs
	for i := 0; i+1 < len(in.Content); i += 2 {
		var si specInput
		if err := in.Content[i+1].Decode(&si); err != nil {
			t.Fatalf("input %s: %v", in.Content[i].Value, err)
		}
		names = append(names, in.Content[i].Value)
		inputs[in.Content[i].Value] = si
	}
	if err := dec.Decode(&jobs); err != nil {
		t.Fatalf("%s: the jobs document: %v", templatePath, err)
	}
	return names, inputs, jobs
}

var interpolation = regexp.MustCompile(`\$\[\[\s*inputs\.([a-z0-9_-]+)\s*\]\]`)

// The template's spec and its job agree: every input is described, has a
// default (so an include may give none), is used, and every use is
// declared; the job runs the slipway image with its entrypoint cleared,
// gets a Sigstore OIDC token, maps inputs to the SLIPWAY_* variables of
// real inputs, runs slipway run, and keeps its reports, always.
func TestGitLabTemplate(t *testing.T) {
	names, inputs, jobs := template(t)
	for _, n := range []string{"stage", "job-name", "image", "images", "tags", "platforms", "push", "sign", "scan", "severity", "comment", "output-dir", "args"} {
		if _, ok := inputs[n]; !ok {
			t.Errorf("the template has no input %q", n)
		}
	}
	checkSpec(t, templatePath, names, inputs)

	if len(jobs) != 1 {
		t.Fatalf("the template has %d jobs, want 1", len(jobs))
	}
	var job struct {
		Stage string `yaml:"stage"`
		Image struct {
			Name       string   `yaml:"name"`
			Entrypoint []string `yaml:"entrypoint"`
		} `yaml:"image"`
		IDTokens  map[string]struct{ Aud string } `yaml:"id_tokens"`
		Variables map[string]string               `yaml:"variables"`
		Script    []string                        `yaml:"script"`
		Artifacts struct {
			When    string   `yaml:"when"`
			Paths   []string `yaml:"paths"`
			Exclude []string `yaml:"exclude"`
			Reports struct {
				Dotenv            string   `yaml:"dotenv"`
				ContainerScanning string   `yaml:"container_scanning"`
				CycloneDX         []string `yaml:"cyclonedx"`
			} `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	for name, node := range jobs {
		if name != "$[[ inputs.job-name ]]" {
			t.Errorf("job %q, want $[[ inputs.job-name ]]", name)
		}
		if err := node.Decode(&job); err != nil {
			t.Fatal(err)
		}
	}
	if job.Stage != "$[[ inputs.stage ]]" || job.Image.Name != "$[[ inputs.image ]]" || !slices.Equal(job.Image.Entrypoint, []string{""}) {
		t.Errorf("stage %q, image %+v", job.Stage, job.Image)
	}
	if job.IDTokens["SIGSTORE_ID_TOKEN"].Aud != "sigstore" {
		t.Errorf("id_tokens = %+v, want SIGSTORE_ID_TOKEN with aud sigstore", job.IDTokens)
	}
	checkVariables(t, "job", job.Variables, nil)
	if len(job.Script) != 1 || job.Script[0] != "slipway $[[ inputs.command ]] $[[ inputs.args ]]" {
		t.Errorf("script = %q", job.Script)
	}
	a := job.Artifacts
	const dir = "$[[ inputs.output-dir ]]/"
	if a.When != "always" || !slices.Equal(a.Paths, []string{dir}) || len(a.Exclude) == 0 || !strings.HasPrefix(a.Exclude[0], dir+"oci/") {
		t.Errorf("artifacts = %+v, want the output dir but its OCI layout, always", a)
	}
	if a.Reports.Dotenv != dir+"slipway.env" || a.Reports.ContainerScanning != dir+"gl-container-scanning-report.json" ||
		!slices.Equal(a.Reports.CycloneDX, []string{dir + "sbom*.cdx.json"}) {
		t.Errorf("artifacts:reports = %+v", a.Reports)
	}
}

// checkSpec checks a template's spec against its jobs: every input is
// described, has a default (so an include may give none) of its type,
// among its options, and is used; every use is declared.
func checkSpec(t *testing.T, templatePath string, names []string, inputs map[string]specInput) {
	t.Helper()
	for _, n := range names {
		in := inputs[n]
		if in.Description == "" || in.Default.Kind == 0 {
			t.Errorf("input %s: a description and a default are required", n)
			continue
		}
		if (in.Type == "array") != (in.Default.Kind == yaml.SequenceNode) {
			t.Errorf("input %s: type %q, default %v", n, in.Type, in.Default.Kind)
		}
		if len(in.Options) > 0 && !slices.Contains(in.Options, in.Default.Value) {
			t.Errorf("input %s: default %q is not among its options %q", n, in.Default.Value, in.Options)
		}
	}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), templatePath))
	if err != nil {
		t.Fatal(err)
	}
	body := string(data[bytes.Index(data, []byte("\n---\n")):])
	used := map[string]bool{}
	for _, m := range interpolation.FindAllStringSubmatch(body, -1) {
		used[m[1]] = true
		if _, ok := inputs[m[1]]; !ok {
			t.Errorf("%s: a job uses undeclared input %q", templatePath, m[1])
		}
	}
	for _, n := range names {
		if !used[n] {
			t.Errorf("%s: input %q is declared but not used", templatePath, n)
		}
	}
}

// checkVariables checks that a job's variables are SLIPWAY_* variables
// of real inputs, each given one input of the template or, in fixed, a
// fixed value.
func checkVariables(t *testing.T, job string, vars, fixed map[string]string) {
	t.Helper()
	for k, v := range vars {
		if want, ok := fixed[k]; ok {
			if v != want {
				t.Errorf("%s: variable %s = %q, want %q", job, k, v, want)
			}
			continue
		}
		m := interpolation.FindStringSubmatch(v)
		if m == nil || m[0] != v {
			t.Errorf("%s: variable %s = %q, want one input", job, k, v)
			continue
		}
		in, ok := config.Lookup(m[1])
		if !ok || in.EnvName() != k {
			t.Errorf("%s: variable %s maps input %q, whose variable is %q", job, k, m[1], in.EnvName())
		}
	}
	for k := range fixed {
		if _, ok := config.Lookup(strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "SLIPWAY_"), "_", "-"))); !ok {
			t.Errorf("%s: fixed variable %s is no input's", job, k)
		}
	}
}

// The matrix template: a platform job per platform (parallel:matrix over
// the platforms input, slipway run with partial: true, its dotenv kept)
// and the merge job that needs them (slipway merge, a Sigstore token,
// its reports kept); the spec agrees with the jobs, and every variable is
// a real input's.
func TestGitLabMatrixTemplate(t *testing.T) {
	names, inputs, jobs := templateAt(t, matrixTemplatePath)
	checkSpec(t, matrixTemplatePath, names, inputs)
	type job struct {
		Stage    string `yaml:"stage"`
		Parallel struct {
			Matrix []map[string]string `yaml:"matrix"`
		} `yaml:"parallel"`
		Needs []struct {
			Job       string `yaml:"job"`
			Artifacts bool   `yaml:"artifacts"`
		} `yaml:"needs"`
		IDTokens  map[string]struct{ Aud string } `yaml:"id_tokens"`
		Variables map[string]string               `yaml:"variables"`
		Script    []string                        `yaml:"script"`
		Artifacts struct {
			Reports struct {
				Dotenv string `yaml:"dotenv"`
			} `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	decode := func(name string) job {
		n, ok := jobs[name]
		if !ok {
			t.Fatalf("%s has no job %q (jobs: %v)", matrixTemplatePath, name, slices.Collect(maps.Keys(jobs)))
		}
		var j job
		if err := n.Decode(&j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	if len(jobs) != 2 {
		t.Errorf("%d jobs, want the platform job and the merge job", len(jobs))
	}
	platform, merge := decode("$[[ inputs.job-name ]]-platform"), decode("$[[ inputs.job-name ]]")
	if len(platform.Parallel.Matrix) != 1 || platform.Parallel.Matrix[0]["SLIPWAY_PLATFORMS"] != "$[[ inputs.platforms ]]" {
		t.Errorf("the platform job's matrix: %+v", platform.Parallel.Matrix)
	}
	checkVariables(t, "platform job", platform.Variables, map[string]string{"SLIPWAY_PARTIAL": "true", "SLIPWAY_PUSH": "true", "SLIPWAY_COMMENT": "never"})
	checkVariables(t, "merge job", merge.Variables, map[string]string{"SLIPWAY_PUSH": "true"})
	if len(platform.Script) != 1 || platform.Script[0] != "slipway run $[[ inputs.args ]]" ||
		len(merge.Script) != 1 || merge.Script[0] != "slipway merge $[[ inputs.merge-args ]]" {
		t.Errorf("scripts %q and %q", platform.Script, merge.Script)
	}
	if len(merge.Needs) != 1 || merge.Needs[0].Job != "$[[ inputs.job-name ]]-platform" || !merge.Needs[0].Artifacts {
		t.Errorf("the merge job's needs: %+v, want the platform job's, with its dotenv", merge.Needs)
	}
	if merge.IDTokens["SIGSTORE_ID_TOKEN"].Aud != "sigstore" {
		t.Errorf("the merge job's id_tokens = %+v", merge.IDTokens)
	}
	for name, j := range map[string]job{"platform": platform, "merge": merge} {
		if j.Artifacts.Reports.Dotenv != "$[[ inputs.output-dir ]]/slipway.env" {
			t.Errorf("the %s job keeps no dotenv: %+v", name, j.Artifacts.Reports)
		}
		if j.Stage != "$[[ inputs.stage ]]" {
			t.Errorf("the %s job's stage %q", name, j.Stage)
		}
	}
}

// integrity is GitLab's include:integrity of data: sha256- and the
// base64 of its SHA-256.
func integrity(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

var integrityLine = regexp.MustCompile(`(?m)^(\s*integrity:\s*)(sha256-[A-Za-z0-9+/=]+)\s*$`)

// The GitLab example includes the template by remote URL, pinned by the
// integrity hash of the template in this tree (-update rewrites it), with
// inputs the template declares.
func TestGitLabExample(t *testing.T) {
	root := testenv.RepoRoot(t)
	tmpl, err := os.ReadFile(filepath.Join(root, templatePath))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, examplePath)
	ex, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := integrityLine.FindSubmatchIndex(ex)
	if m == nil {
		t.Fatalf("%s has no integrity: line", examplePath)
	}
	if want := integrity(tmpl); string(ex[m[4]:m[5]]) != want {
		if !*update {
			t.Fatalf("%s: integrity %s, the template's is %s: run go test ./test/ship -run TestGitLabExample -update", examplePath, ex[m[4]:m[5]], want)
		}
		ex = slices.Concat(ex[:m[4]], []byte(want), ex[m[5]:])
		if err := os.WriteFile(path, ex, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Include []struct {
			Remote    string            `yaml:"remote"`
			Integrity string            `yaml:"integrity"`
			Inputs    map[string]string `yaml:"inputs"`
		} `yaml:"include"`
	}
	if err := yaml.Unmarshal(ex, &doc); err != nil {
		t.Fatalf("%s: %v", examplePath, err)
	}
	if len(doc.Include) != 1 || !strings.HasSuffix(doc.Include[0].Remote, "/"+templatePath) {
		t.Fatalf("%s includes %+v, want the template by remote URL", examplePath, doc.Include)
	}
	_, inputs, _ := template(t)
	for k := range doc.Include[0].Inputs {
		if _, ok := inputs[k]; !ok {
			t.Errorf("%s gives input %q, which the template does not declare", examplePath, k)
		}
	}
}

var (
	slipwayVar   = regexp.MustCompile(`\bSLIPWAY_[A-Z0-9_]+\b`)
	fencedBlock  = regexp.MustCompile("(?s)```sh\n(.*?)```")
	flagInRunCmd = regexp.MustCompile(`\s--([a-z][a-z0-9-]*)`)
)

// Every SLIPWAY_* variable the examples and the templates name is an
// input's (or SLIPWAY_CONFIG, or a result's), and every flag of a `slipway run` in the
// local example is an input's or a run flag.
func TestExamplesNameRealInputs(t *testing.T) {
	root := testenv.RepoRoot(t)
	envs := map[string]bool{"SLIPWAY_CONFIG": true}
	flags := map[string]bool{"config": true, "dry-run": true, "output": true}
	for _, in := range config.Inputs() {
		envs[in.EnvName()] = true
		flags[in.Name] = true
	}
	files := []string{templatePath, matrixTemplatePath, examplePath, "examples/github/workflow.yml", "examples/github/matrix.yml",
		"examples/jenkins/Jenkinsfile", "examples/jenkins/Jenkinsfile.parallel", "examples/local/README.md"}
	for _, f := range files {
		s := readFile(t, filepath.Join(root, f))
		for _, v := range slipwayVar.FindAllString(s, -1) {
			// SLIPWAY_RESULT_*: a run's results, which a later job reads.
			if !envs[v] && !strings.HasPrefix(v, config.ResultEnvPrefix) {
				t.Errorf("%s: %s is no input's variable", f, v)
			}
		}
	}
	local := readFile(t, filepath.Join(root, "examples/local/README.md"))
	n := 0
	for _, block := range fencedBlock.FindAllStringSubmatch(local, -1) {
		for _, cmd := range strings.Split(strings.ReplaceAll(block[1], "\\\n", " "), "\n") {
			cmd = strings.TrimSpace(cmd)
			if !strings.HasPrefix(cmd, "slipway run") {
				continue
			}
			n++
			for _, m := range flagInRunCmd.FindAllStringSubmatch(cmd, -1) {
				if !flags[m[1]] {
					t.Errorf("examples/local/README.md: %q: --%s is no flag of slipway run", cmd, m[1])
				}
			}
		}
	}
	if n == 0 {
		t.Error("examples/local/README.md shows no slipway run")
	}
}
