package citest

import (
	"errors"
	"io/fs"
	"os"
	"strings"
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

func TestLoadExamplesMissing(t *testing.T) {
	_, err := loadExamplesFrom(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestGitHubAPI(t *testing.T) {
	api := LoadGitHubAPI(t)
	op, err := api.Check("PATCH", "/repos/o/r/issues/comments/12", nil, []byte(`{"body":"x"}`))
	if err != nil || op.ID != "issues/update-comment" {
		t.Errorf("PATCH a comment: operation %q, error %v; want issues/update-comment and none", op.ID, err)
	}
	op, err = api.Check("GET", "/repos/o/r/issues/7/comments", map[string][]string{"per_page": {"100"}, "page": {"2"}}, nil)
	if err != nil || op.ID != "issues/list-comments" {
		t.Errorf("GET comments: operation %q, error %v; want issues/list-comments and none", op.ID, err)
	}
	// The literal "comments" wins over {issue_number}.
	if op, _ := api.Operation("GET", "/repos/o/r/issues/comments"); op.ID != "issues/list-comments-for-repo" {
		t.Errorf("GET /repos/o/r/issues/comments = %q, want issues/list-comments-for-repo", op.ID)
	}
	for name, tt := range map[string]struct {
		method, path string
		query        map[string][]string
		body         string
		want         string
	}{
		"unknown path":          {"GET", "/repos/o/r/nope/1", nil, "", "no such operation"},
		"wrong method":          {"PUT", "/repos/o/r/issues/7/comments", nil, `{"body":"x"}`, "no such operation"},
		"unknown query":         {"GET", "/repos/o/r/issues/7/comments", map[string][]string{"perpage": {"100"}}, "", `query parameter "perpage"`},
		"no body":               {"POST", "/repos/o/r/issues/7/comments", nil, "", "no request body"},
		"missing body field":    {"POST", "/repos/o/r/issues/7/comments", nil, `{"text":"x"}`, `required field "body"`},
		"body is not an object": {"PATCH", "/repos/o/r/issues/comments/12", nil, `"x"`, "not a JSON object"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := api.Check(tt.method, tt.path, tt.query, []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
