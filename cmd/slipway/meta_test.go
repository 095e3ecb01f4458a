package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci/citest"
)

// slipway meta in GitHub Actions: metadata-action's json on stdout and the
// step outputs in GITHUB_OUTPUT, multi-line ones in heredoc form.
func TestMetaGitHubOutputs(t *testing.T) {
	payload := citest.Payload(t, "push", citest.RefPrefix("refs/tags/"))
	citest.Set(payload, "ref", "refs/tags/v2.3.4")
	env := citest.GitHubEnv(t, "push", payload)
	env["INPUT_IMAGES"] = "ghcr.io/Octo-Org/App" // lower-cased, as metadata-action does
	env["INPUT_TAGS"] = "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}\n# a comment\ntype=sha"
	env["SOURCE_DATE_EPOCH"] = "1700000000"
	r := slipway(t, "testdata/app", env, "meta", "--offline")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var js struct {
		Tags     []string          `json:"tags"`
		TagNames []string          `json:"tag-names"`
		Labels   map[string]string `json:"labels"`
		Version  struct {
			Main   string `json:"main"`
			Latest bool   `json:"latest"`
		} `json:"version"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	wantTags := []string{"ghcr.io/octo-org/app:2.3.4", "ghcr.io/octo-org/app:2", "ghcr.io/octo-org/app:sha-6113728", "ghcr.io/octo-org/app:latest"}
	if !slices.Equal(js.Tags, wantTags) || js.Version.Main != "2.3.4" || !js.Version.Latest {
		t.Errorf("json = %+v, want tags %q", js, wantTags)
	}
	if js.Labels["org.opencontainers.image.created"] != "2023-11-14T22:13:20.000Z" {
		t.Errorf("created label = %q", js.Labels["org.opencontainers.image.created"])
	}

	data, err := os.ReadFile(env["GITHUB_OUTPUT"])
	if err != nil {
		t.Fatal(err)
	}
	outputs := parseGitHubOutput(t, string(data))
	if outputs["version"] != "2.3.4" || outputs["tags"] != strings.Join(wantTags, "\n") || outputs["json"] != strings.TrimSpace(r.stdout) {
		t.Errorf("outputs = %q", outputs)
	}
	for _, k := range []string{"tag-names", "labels", "annotations"} {
		if outputs[k] == "" {
			t.Errorf("output %s is empty", k)
		}
	}
}

// parseGitHubOutput reads a GITHUB_OUTPUT file as the runner does:
// name=value lines and name<<DELIMITER … DELIMITER blocks.
func parseGitHubOutput(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	heredoc := regexp.MustCompile(`^([^=<]+)<<(.+)$`)
	for i := 0; i < len(lines); i++ {
		if m := heredoc.FindStringSubmatch(lines[i]); m != nil {
			var val []string
			for i++; i < len(lines) && lines[i] != m[2]; i++ {
				val = append(val, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("output %s: delimiter %s never closes", m[1], m[2])
			}
			out[m[1]] = strings.Join(val, "\n")
		} else if k, v, ok := strings.Cut(lines[i], "="); ok {
			out[k] = v
		}
	}
	return out
}

// Like metadata-action, meta works without images: bare tag names, and
// nothing a build needs is required.
func TestMetaWithoutImages(t *testing.T) {
	env := citest.GitHubEnv(t, "push", citest.Payload(t, "push", citest.RefPrefix("refs/heads/")))
	env["INPUT_SECRET-ENVS"] = "token=NOT_SET_ANYWHERE"
	r := slipway(t, ".", env, "meta", "--offline")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var js struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || len(js.Tags) == 0 || strings.Contains(js.Tags[0], "/") {
		t.Errorf("tags %q (%v), want bare tag names", js.Tags, err)
	}
}
