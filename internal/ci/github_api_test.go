package ci

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slipway-ci/slipway/internal/ci/citest"
	"github.com/slipway-ci/slipway/internal/environ"
)

const testToken = "ghs_testtoken123"

// fakeAPI is a GitHub REST API serving /repos/Codertocat/Hello-World.
type fakeAPI struct {
	*httptest.Server
	requests atomic.Int32
	auth     atomic.Value // the last Authorization header
}

// newFakeAPI starts a fake API answering with status (200 serves the
// repository) and stops it when the test ends.
func newFakeAPI(t *testing.T, status int) *fakeAPI {
	api := &fakeAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.requests.Add(1)
		api.auth.Store(r.Header.Get("Authorization"))
		if r.URL.Path != "/repos/Codertocat/Hello-World" {
			http.NotFound(w, r)
			return
		}
		if status != http.StatusOK {
			http.Error(w, `{"message":"boom"}`, status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{
			"full_name": "Codertocat/Hello-World",
			"html_url": "https://github.com/Codertocat/Hello-World",
			"description": "A repository for testing",
			"default_branch": "main",
			"license": {"key": "mit", "spdx_id": "MIT"}
		}`))
	}))
	t.Cleanup(api.Close)
	return api
}

// apiContext reads the context of a branch push served by api, with opts
// completed by the env, and returns it with the warnings given.
func apiContext(t *testing.T, api *fakeAPI, opts Options, env ...string) (*Context, []string) {
	t.Helper()
	base := citest.GitHubEnv(t, "push", citest.Payload(t, "push", citest.RefPrefix("refs/heads/")))
	base["GITHUB_API_URL"] = api.URL // no trailing slash, as on runners
	opts.Env = environ.Map(withEnv(base, env...))
	p, err := New(NameGitHub, opts)
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	c, err := p.Context(context.Background(), func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatalf("Context: %v", err)
	}
	return c, warnings
}

func TestGitHubRepositoryFromAPI(t *testing.T) {
	want := Repository{
		Name: helloWorld, URL: helloWorldURL, Description: "A repository for testing",
		License: "MIT", DefaultBranch: "main",
	}
	tests := []struct {
		name  string
		opts  Options
		env   []string
		token string
	}{
		{"github-token input", Options{GitHubToken: testToken}, []string{"GITHUB_TOKEN", "ignored"}, testToken},
		{"GITHUB_TOKEN", Options{}, []string{"GITHUB_TOKEN", testToken}, testToken},
		{"no token", Options{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, http.StatusOK)
			c, warnings := apiContext(t, api, tt.opts, tt.env...)
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			if c.Repository != want {
				t.Errorf("Repository = %+v, want %+v", c.Repository, want)
			}
			wantAuth := ""
			if tt.token != "" {
				wantAuth = "Bearer " + tt.token
			}
			if got, _ := api.auth.Load().(string); got != wantAuth {
				t.Errorf("Authorization = %q, want %q", got, wantAuth)
			}
		})
	}
}

func TestGitHubRepositoryFallsBackToPayload(t *testing.T) {
	payloadRepo := Repository{Name: helloWorld, URL: helloWorldURL, DefaultBranch: "master"}
	for name, api := range map[string]func(t *testing.T) *fakeAPI{
		"server error": func(t *testing.T) *fakeAPI { return newFakeAPI(t, http.StatusInternalServerError) },
		"not found":    func(t *testing.T) *fakeAPI { return newFakeAPI(t, http.StatusNotFound) },
		"server closed": func(t *testing.T) *fakeAPI {
			api := newFakeAPI(t, http.StatusOK)
			api.Close()
			return api
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, warnings := apiContext(t, api(t), Options{GitHubToken: testToken})
			if c.Repository != payloadRepo {
				t.Errorf("Repository = %+v, want the payload's %+v", c.Repository, payloadRepo)
			}
			if len(warnings) != 1 {
				t.Fatalf("warnings = %q, want one", warnings)
			}
			assertContains(t, warnings[0], "using the event payload")
			if strings.Contains(warnings[0], testToken) {
				t.Errorf("warning shows the token: %s", warnings[0])
			}
		})
	}
}

func TestGitHubOfflineMakesNoRequest(t *testing.T) {
	api := newFakeAPI(t, http.StatusOK)
	c, warnings := apiContext(t, api, Options{GitHubToken: testToken, Offline: true})
	if n := api.requests.Load(); n != 0 {
		t.Errorf("%d API requests offline, want none", n)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings offline: %q", warnings)
	}
	if c.Repository.DefaultBranch != "master" {
		t.Errorf("DefaultBranch = %q, want the payload's master", c.Repository.DefaultBranch)
	}
}
