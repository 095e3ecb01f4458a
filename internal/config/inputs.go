package config

import (
	"reflect"
	"strings"
	"sync"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/csvlist"
)

// Kind is the type of an input's value.
type Kind int

const (
	KindString Kind = iota
	KindBool
	KindList
)

// Input describes one input, read from the struct tags of Config.
type Input struct {
	Name string
	Kind Kind
	List csvlist.Opts // how a KindList value is split
	// Lines is a string input of one item per line (the builder's
	// nodes): a .slipway.yaml list gives it one line per element.
	Lines   bool
	Default string
	Secret  bool
	Enum    []string
	// EnvDefault is a conventional variable (BUILDKIT_HOST) read when no
	// source gives the input, before its default.
	EnvDefault string
	Desc       string
	// actionDefault is the default action.yml declares when it is not
	// Default (the `action` tag); see ActionDefault.
	actionDefault string
	field         int // index in Config
}

// CommandInput is the GitHub Action's one input that is not a Config
// field: the slipway command its container runs (action.yml passes it as
// the container's arguments, in place of the image's default `run`). A
// CI matrix's merge job is the action with command: merge.
var CommandInput = Input{
	Name:    "command",
	Default: "run",
	Enum:    []string{"run", "merge", "promote"},
	Desc:    "The slipway command the action runs: run, merge (the merge job after a matrix of partial runs), or promote (source moved to images, verified); the action's only, not an option of the commands",
}

// ActionInputs are the GitHub Action's inputs: the command, then every
// input of Config.
func ActionInputs() []Input {
	return append([]Input{CommandInput}, Inputs()...)
}

// EnvName is the SLIPWAY_* variable of the input: upper-cased, hyphens
// turned into underscores (SLIPWAY_BUILD_ARGS).
func (in Input) EnvName() string {
	return "SLIPWAY_" + strings.ToUpper(strings.ReplaceAll(in.Name, "-", "_"))
}

// GitHubEnvName is the variable GitHub Actions sets for the input:
// upper-cased with hyphens kept (INPUT_BUILD-ARGS), as @actions/core reads it.
func (in Input) GitHubEnvName() string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(in.Name, " ", "_"))
}

var (
	inputsOnce sync.Once
	inputs     []Input
	inputIndex map[string]int
)

// ownedDefaults are defaults another package owns and uses without the
// configuration, kept there so that each is written once: the directory
// the CI providers write outputs to is the output-dir input's default.
var ownedDefaults = map[string]string{"output-dir": ci.DefaultOutputDir}

// Inputs returns every input in declaration order.
func Inputs() []Input {
	inputsOnce.Do(func() {
		t := reflect.TypeFor[Config]()
		inputIndex = map[string]int{}
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("input")
			if name == "" {
				continue
			}
			in := Input{
				Name:    name,
				Default: f.Tag.Get("default"),
				Secret:  f.Tag.Get("secret") == "true",
				Desc:    f.Tag.Get("desc"),
				Lines:   f.Tag.Get("lines") == "true",
				field:   i,

				EnvDefault:    f.Tag.Get("envdefault"),
				actionDefault: f.Tag.Get("action"),
			}
			if d, ok := ownedDefaults[name]; ok {
				in.Default = d
			}
			if e := f.Tag.Get("enum"); e != "" {
				in.Enum = strings.Split(e, "|")
			}
			switch f.Type.Kind() {
			case reflect.Bool:
				in.Kind = KindBool
			case reflect.Slice:
				in.Kind = KindList
				in.List = csvlist.Opts{IgnoreComma: f.Tag.Get("list") == "lines"}
				if f.Tag.Get("comment") == "#" {
					in.List.Comment = '#'
				}
			default:
				in.Kind = KindString
			}
			inputIndex[name] = len(inputs)
			inputs = append(inputs, in)
		}
	})
	return inputs
}

func fieldValue(c *Config, in Input) reflect.Value {
	return reflect.ValueOf(c).Elem().Field(in.field)
}

// Lookup returns the input called name.
func Lookup(name string) (Input, bool) {
	Inputs()
	i, ok := inputIndex[name]
	if !ok {
		return Input{}, false
	}
	return inputs[i], true
}
