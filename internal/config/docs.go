package config

import (
	"fmt"
	"strings"
)

// MarkdownTable renders the inputs as the README's table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| input | env | default | description |\n|---|---|---|---|\n")
	for _, in := range ActionInputs() {
		env := "`" + in.EnvName() + "`"
		if in.Name == CommandInput.Name {
			env = "(action only)"
		}
		def := in.Default
		if def != "" {
			def = "`" + def + "`"
		}
		desc := in.Desc
		if len(in.Enum) > 0 {
			desc += " (`" + strings.Join(in.Enum, "`, `") + "`)"
		}
		if in.Secret {
			desc += "; secret: masked, never printed"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", in.Name, env, def, strings.ReplaceAll(desc, "|", `\|`))
	}
	return b.String()
}
