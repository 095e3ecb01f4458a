package citest

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestPayload(t *testing.T) {
	p := Payload(t, "push", RefPrefix("refs/tags/"))
	if String(p, "ref") != "refs/tags/simple-tag" {
		t.Errorf("ref = %q", String(p, "ref"))
	}
	// Each call returns a fresh copy.
	Set(p, "repository.full_name", "changed/elsewhere")
	if q := Payload(t, "push", RefPrefix("refs/tags/")); String(q, "repository.full_name") != "Codertocat/Hello-World" {
		t.Error("Payload returned a shared payload")
	}
	if Get(p, "no.such.path") != nil {
		t.Error("Get of a missing path is not nil")
	}
}

func TestGitHubEnv(t *testing.T) {
	tests := []struct {
		event, match       string
		ref, refName, head string
	}{
		{"push", "refs/heads/", "refs/heads/master", "master", ""},
		{"pull_request", "", "refs/pull/2/merge", "2/merge", "changes"},
		{"pull_request_target", "", "refs/heads/master", "master", "changes"},
	}
	for _, tt := range tests {
		payload := Payload(t, "push", RefPrefix(tt.match))
		if tt.match == "" {
			payload = Payload(t, "pull_request", Action("opened"))
		}
		env := GitHubEnv(t, tt.event, payload)
		if env["GITHUB_REF"] != tt.ref || env["GITHUB_REF_NAME"] != tt.refName || env["GITHUB_HEAD_REF"] != tt.head {
			t.Errorf("%s: GITHUB_REF %q, GITHUB_REF_NAME %q, GITHUB_HEAD_REF %q; want %q, %q, %q",
				tt.event, env["GITHUB_REF"], env["GITHUB_REF_NAME"], env["GITHUB_HEAD_REF"], tt.ref, tt.refName, tt.head)
		}
		for _, file := range []string{"GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
			if _, err := os.Stat(env[file]); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
}

func TestRepoRoot(t *testing.T) {
	if _, err := os.Stat(RepoRoot(t) + "/go.mod"); err != nil {
		t.Error(err)
	}
}

func TestLoadExamplesMissing(t *testing.T) {
	_, err := loadExamplesFrom(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}
