// Package citest helps tests build realistic CI contexts: it loads real
// GitHub webhook payloads from @octokit/webhooks-examples (installed by
// `make testdeps`) and derives the GITHUB_* environment the Actions runner
// sets for them.
package citest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// examplesPath is where hack/testdeps.sh installs @octokit/webhooks-examples,
// relative to the repository root.
const examplesPath = "hack/testdeps/node_modules/@octokit/webhooks-examples/api.github.com/index.json"

// Defaults for what a payload does not say. Tests may overwrite any entry
// of the map GitHubEnv returns.
const (
	DefaultRepository = "octo-org/octo-repo" // GITHUB_REPOSITORY without payload.repository
	DefaultBranch     = "main"               // default branch without payload.repository.default_branch
	RunID             = "4242424242"         // GITHUB_RUN_ID
	// FakeSHA is GITHUB_SHA for events whose payload names no commit
	// (release, workflow_dispatch, schedule, ...), where the runner uses
	// the ref's latest commit.
	FakeSHA = "0123456789abcdef0123456789abcdef01234567"
)

// examples is the parsed index.json: every event's payloads, kept raw so
// that each Payload call decodes a fresh copy the caller may change.
var examples struct {
	once   sync.Once
	byName map[string][]json.RawMessage
	err    error
}

// Payload returns the first example payload of the webhook event called
// event (e.g. "push", "pull_request") for which match returns true; a nil
// match takes the first. The payload is the caller's own copy. The test
// fails when the examples are not installed or none matches.
func Payload(t testing.TB, event string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	examples.once.Do(loadExamples)
	if examples.err != nil {
		t.Fatalf("%v: run `make testdeps` (hack/testdeps.sh) to install @octokit/webhooks-examples", examples.err)
	}
	for _, raw := range examples.byName[event] {
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("decoding a %s example payload: %v", event, err)
		}
		if match == nil || match(p) {
			return p
		}
	}
	t.Fatalf("no %s example payload in @octokit/webhooks-examples matches", event)
	return nil
}

// Action matches payloads whose "action" is action ("opened", "published").
func Action(action string) func(map[string]any) bool {
	return func(p map[string]any) bool { return p["action"] == action }
}

// RefPrefix matches payloads whose "ref" starts with prefix
// ("refs/tags/").
func RefPrefix(prefix string) func(map[string]any) bool {
	return func(p map[string]any) bool {
		ref, _ := p["ref"].(string)
		return strings.HasPrefix(ref, prefix)
	}
}

// Get returns the value at the dotted path in payload
// ("pull_request.head.sha"), nil when any step is missing.
func Get(payload map[string]any, path string) any {
	var v any = payload
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// String is Get for a string value; "" when missing or not a string.
func String(payload map[string]any, path string) string {
	s, _ := Get(payload, path).(string)
	return s
}

// Set sets the value at the dotted path in payload, creating objects on
// the way.
func Set(payload map[string]any, path string, value any) {
	keys := strings.Split(path, ".")
	m := payload
	for _, key := range keys[:len(keys)-1] {
		next, ok := m[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[key] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
}

// GitHubEnv writes payload to a file in a temporary directory and returns
// the environment the Actions runner would set for a run of eventName
// with it: GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REF, GITHUB_SHA,
// GITHUB_HEAD_REF/GITHUB_BASE_REF for pull requests, GITHUB_REPOSITORY,
// GITHUB_ACTOR, the run's id and URLs, and empty GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files. Refs and SHAs follow GitHub's table of
// "events that trigger workflows"; where the payload has no commit,
// GITHUB_SHA is FakeSHA.
func GitHubEnv(t testing.TB, eventName string, payload map[string]any) map[string]string {
	t.Helper()
	dir := t.TempDir()
	data, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("encoding the %s payload: %v", eventName, err)
	}
	env := map[string]string{
		"CI":                  "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_EVENT_NAME":   eventName,
		"GITHUB_EVENT_PATH":   writeFile(t, dir, "event.json", data),
		"GITHUB_OUTPUT":       writeFile(t, dir, "output", nil),
		"GITHUB_STEP_SUMMARY": writeFile(t, dir, "step_summary", nil),
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_API_URL":      "https://api.github.com",
		"GITHUB_GRAPHQL_URL":  "https://api.github.com/graphql",
		"GITHUB_RUN_ID":       RunID,
		"GITHUB_RUN_NUMBER":   "7",
		"GITHUB_RUN_ATTEMPT":  "1",
		"GITHUB_WORKFLOW":     "ci",
		"GITHUB_JOB":          "build",
		"GITHUB_ACTOR":        String(payload, "sender.login"),
		"GITHUB_HEAD_REF":     "",
		"GITHUB_BASE_REF":     "",
	}
	repo := or(String(payload, "repository.full_name"), DefaultRepository)
	env["GITHUB_REPOSITORY"] = repo
	env["GITHUB_REPOSITORY_OWNER"], _, _ = strings.Cut(repo, "/")

	ref, sha := refAndSHA(eventName, payload)
	env["GITHUB_REF"], env["GITHUB_SHA"] = ref, sha
	env["GITHUB_REF_NAME"], env["GITHUB_REF_TYPE"] = refName(ref)
	if strings.HasPrefix(eventName, "pull_request") {
		env["GITHUB_HEAD_REF"] = String(payload, "pull_request.head.ref")
		env["GITHUB_BASE_REF"] = String(payload, "pull_request.base.ref")
	}
	return env
}

// refAndSHA returns GITHUB_REF and GITHUB_SHA for a run of eventName.
func refAndSHA(eventName string, payload map[string]any) (ref, sha string) {
	defaultRef := "refs/heads/" + or(String(payload, "repository.default_branch"), DefaultBranch)
	switch {
	case eventName == "push":
		return String(payload, "ref"), String(payload, "after")
	case eventName == "pull_request_target":
		// Runs on the base branch, with the base's latest commit.
		return "refs/heads/" + String(payload, "pull_request.base.ref"), String(payload, "pull_request.base.sha")
	case strings.HasPrefix(eventName, "pull_request"):
		number, _ := Get(payload, "pull_request.number").(float64)
		sha := or(String(payload, "pull_request.merge_commit_sha"), String(payload, "pull_request.head.sha"))
		return fmt.Sprintf("refs/pull/%d/merge", int(number)), sha
	case eventName == "release":
		return "refs/tags/" + String(payload, "release.tag_name"), FakeSHA
	case eventName == "workflow_dispatch":
		return or(String(payload, "ref"), defaultRef), FakeSHA
	}
	// schedule, repository_dispatch and most others run on the default
	// branch's latest commit.
	return defaultRef, FakeSHA
}

// refName returns GITHUB_REF_NAME and GITHUB_REF_TYPE for ref.
func refName(ref string) (name, typ string) {
	if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return tag, "tag"
	}
	if pull, ok := strings.CutPrefix(ref, "refs/pull/"); ok {
		return pull, "branch"
	}
	return strings.TrimPrefix(ref, "refs/heads/"), "branch"
}

// loadExamples fills examples from index.json under the repository root.
func loadExamples() {
	root, err := testenv.FindRepoRoot()
	if err == nil {
		examples.byName, err = loadExamplesFrom(root)
	}
	examples.err = err
}

// loadExamplesFrom reads index.json under root into payloads by event name.
func loadExamplesFrom(root string) (map[string][]json.RawMessage, error) {
	path := filepath.Join(root, examplesPath)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading webhook examples: %w", err)
	}
	var events []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("parsing webhook examples %s: %w", path, err)
	}
	byName := make(map[string][]json.RawMessage, len(events))
	for _, e := range events {
		byName[e.Name] = append(byName[e.Name], e.Examples...)
	}
	return byName, nil
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
