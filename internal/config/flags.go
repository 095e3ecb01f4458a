package config

import (
	"strings"

	"github.com/spf13/pflag"
)

// RegisterFlags adds one flag per input to fs, plus --config. List inputs
// are repeatable flags; each value is split like the input itself, so
// --tags 'type=ref,event=pr' is one rule and --platforms a,b two platforms.
// Boolean inputs may be given bare (--no-cache).
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (default <context>/"+DefaultFile+")")
	for _, in := range Inputs() {
		usage := in.Desc
		if len(in.Enum) > 0 {
			usage += " (" + strings.Join(in.Enum, "|") + ")"
		}
		switch in.Kind {
		case KindList:
			fs.StringArray(in.Name, nil, usage)
		case KindBool:
			fs.String(in.Name, "", usage)
			fs.Lookup(in.Name).NoOptDefVal = "true"
		default:
			fs.String(in.Name, "", usage)
		}
	}
}

// FlagValues returns the inputs set on the command line, for Options.Flags.
func FlagValues(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.Visit(func(f *pflag.Flag) {
		in, ok := Lookup(f.Name)
		switch {
		case f.Name == "config":
			out[f.Name] = f.Value.String()
		case !ok:
			// not an input (--dry-run, --output, ...)
		case in.Kind == KindList:
			vals, _ := fs.GetStringArray(f.Name)
			out[f.Name] = strings.Join(vals, "\n")
		default:
			out[f.Name] = f.Value.String()
		}
	})
	return out
}
