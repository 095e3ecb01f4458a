package config

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"
)

// Markers around the generated inputs block of action.yml.
const (
	ActionInputsBegin = "# inputs:begin (generated from internal/config.Config: go test ./internal/config -run TestActionInputs -update)\n"
	ActionInputsEnd   = "# inputs:end\n"
)

// ActionDescription is an input's description in action.yml: the
// description, its allowed values, and a note when it is a secret.
func (in Input) ActionDescription() string {
	desc := in.Desc
	if len(in.Enum) > 0 {
		desc += " (" + strings.Join(in.Enum, ", ") + ")"
	}
	if in.Secret {
		desc += "; secret: masked, never printed"
	}
	return desc
}

// ActionDefault is an input's default in action.yml: its `action` tag
// (github-token: ${{ github.token }}, as a container action gets no
// GITHUB_TOKEN otherwise), else its default.
func (in Input) ActionDefault() string {
	if in.actionDefault != "" {
		return in.actionDefault
	}
	return in.Default
}

// ActionInputsYAML renders every input as the `inputs:` mapping of
// action.yml, in declaration order: description, required: false and the
// default when there is one.
func ActionInputsYAML() string {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	inputs := &yaml.Node{Kind: yaml.MappingNode}
	for _, in := range ActionInputs() {
		m := &yaml.Node{Kind: yaml.MappingNode}
		m.Content = append(m.Content, str("description"), str(in.ActionDescription()),
			str("required"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
		if d := in.ActionDefault(); d != "" {
			m.Content = append(m.Content, str("default"), str(d))
		}
		inputs.Content = append(inputs.Content, str(in.Name), m)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("inputs"), inputs}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		// Only scalars and mappings built above: encoding cannot fail.
		panic(err)
	}
	if err := enc.Close(); err != nil {
		panic(err)
	}
	return b.String()
}
