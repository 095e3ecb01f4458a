package ci

import (
	"errors"
	"testing"

	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GITHUB_ACTIONS": "true", "CI": "true"}, NameGitHub},
		{map[string]string{"GITLAB_CI": "true", "CI": "true"}, NameGitLab},
		{map[string]string{"JENKINS_URL": "https://jenkins.example.com/"}, NameJenkins},
		{map[string]string{"CI": "true"}, NameLocal},
		{map[string]string{"GITHUB_ACTIONS": "false", "JENKINS_URL": ""}, NameLocal},
		{nil, NameLocal},
	}
	for _, tt := range tests {
		if got := Detect(Options{Env: environ.Map(tt.env)}).Name(); got != tt.want {
			t.Errorf("Detect(%v) = %s, want %s", tt.env, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, name := range []string{NameGitHub, NameGitLab, NameJenkins, NameLocal} {
		p, err := New(name, Options{Env: environ.Map(nil)})
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		if p.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, p.Name())
		}
		if p.Outputs() == nil {
			t.Errorf("New(%q).Outputs() = nil", name)
		}
	}
	if _, ok := mustNew(t, NameGitHub).Outputs().(Grouper); !ok {
		t.Error("GitHub outputs are not a Grouper")
	}

	_, err := New("travis", Options{})
	var ie *errs.InputError
	if !errors.As(err, &ie) || ie.Input != "ci" {
		t.Fatalf("New(travis) error = %v, want an *errs.InputError for input ci", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Env == nil || o.HTTPClient == nil || o.Stdout == nil {
		t.Fatal("withDefaults left a nil field")
	}
	if o.OutputDir != DefaultOutputDir || o.ContextDir != "." || o.HTTPClient.Timeout != apiTimeout {
		t.Errorf("withDefaults = %+v", o)
	}
}

func TestPullNumber(t *testing.T) {
	for ref, want := range map[string]int{
		"refs/pull/12/merge": 12, "refs/pull/3/head": 3, "refs/heads/main": 0, "refs/pull/x/merge": 0,
	} {
		if got := pullNumber(ref); got != want {
			t.Errorf("pullNumber(%q) = %d, want %d", ref, got, want)
		}
	}
}

func mustNew(t *testing.T, name string) Provider {
	t.Helper()
	p, err := New(name, Options{Env: environ.Map(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
