package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/environ"
)

const actionPath = "../../action.yml"

// action.yml's inputs block is generated from Config; this keeps it so
// (-update rewrites it).
func TestActionInputs(t *testing.T) {
	data, err := os.ReadFile(actionPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, ActionInputsBegin), strings.Index(s, ActionInputsEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", actionPath, ActionInputsBegin, ActionInputsEnd)
	}
	want := ActionInputsYAML()
	if got := s[i+len(ActionInputsBegin) : j]; got != want {
		if *update {
			if err := os.WriteFile(actionPath, []byte(s[:i+len(ActionInputsBegin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("action.yml's inputs are stale: run go test ./internal/config -run TestActionInputs -update")
	}
}

// The inputs action.yml declares, as GitHub reads them, are Config's:
// the same names in the same order, descriptions and defaults, none
// required, and nothing else.
func TestActionInputsParsed(t *testing.T) {
	data, err := os.ReadFile(actionPath)
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs yaml.Node `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatalf("%s: %v", actionPath, err)
	}
	if action.Inputs.Kind != yaml.MappingNode {
		t.Fatalf("%s: inputs is not a mapping", actionPath)
	}
	type input struct {
		Description string  `yaml:"description"`
		Required    *bool   `yaml:"required"`
		Default     *string `yaml:"default"`
	}
	var names []string
	got := map[string]input{}
	for k := 0; k+1 < len(action.Inputs.Content); k += 2 {
		name := action.Inputs.Content[k].Value
		var in input
		if err := action.Inputs.Content[k+1].Decode(&in); err != nil {
			t.Fatalf("input %s: %v", name, err)
		}
		names = append(names, name)
		got[name] = in
	}
	var want []string
	for _, in := range ActionInputs() {
		want = append(want, in.Name)
		a, ok := got[in.Name]
		if !ok {
			continue
		}
		if a.Description != in.ActionDescription() {
			t.Errorf("input %s: description %q, want %q", in.Name, a.Description, in.ActionDescription())
		}
		if a.Required == nil || *a.Required {
			t.Errorf("input %s: required is not false", in.Name)
		}
		switch def := in.ActionDefault(); {
		case def == "" && a.Default != nil:
			t.Errorf("input %s: default %q, want none", in.Name, *a.Default)
		case def != "" && (a.Default == nil || *a.Default != def):
			t.Errorf("input %s: default %v, want %q", in.Name, a.Default, def)
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("action.yml inputs:\n%s\nwant the command and Config's:\n%s", strings.Join(names, " "), strings.Join(want, " "))
	}
	if gh, _ := Lookup("github-token"); gh.ActionDefault() != "${{ github.token }}" {
		t.Errorf("github-token's action.yml default is %q", gh.ActionDefault())
	}
}

// GitHub sets INPUT_* for every input action.yml declares, to its default
// when the step gives none, and a CI template sets SLIPWAY_* for each of
// its inputs, empty ones included: neither hides a config file's value or
// a conventional variable.
func TestLoadActionDefaultsAndEmptyVariables(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, DefaultFile), "scan: false\npush: \"true\"\nsign: \"false\"\n")
	env := map[string]string{
		"SLIPWAY_CONTEXT":  dir,
		"SLIPWAY_PUSH":     "",     // a template input left empty
		"SLIPWAY_BUILDER":  "",     // idem: BUILDKIT_HOST still applies
		"INPUT_SCAN":       "true", // action.yml's default
		"INPUT_SIGN":       "auto", // idem
		"INPUT_PROGRESS":   "plain",
		"INPUT_OUTPUT-DIR": ".slipway",
		"BUILDKIT_HOST":    "unix:///run/buildkit.sock",
	}
	l, err := Load(Options{Env: environ.Map(env)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, got, want string
		src             Source
	}{
		{"scan", strconv.FormatBool(l.Scan), "false", FromFile},
		{"push", string(l.Push), "true", FromFile},
		{"sign", string(l.Sign), "false", FromFile},
		{"progress", l.Progress, "plain", FromGitHub},
		{"output-dir", l.OutputDir, ".slipway", FromDefault},
		{"builder", l.Builder, "unix:///run/buildkit.sock", FromEnvDefault},
	} {
		if tc.got != tc.want || l.Origin[tc.name] != tc.src {
			t.Errorf("%s = %q from %s, want %q from %s", tc.name, tc.got, l.Origin[tc.name], tc.want, tc.src)
		}
	}
}
