package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/csvlist"
	"github.com/slipway-ci/slipway/internal/errs"
)

// DefaultFile is the config file looked for in the build context.
const DefaultFile = ".slipway.yaml"

// Source names where an input's value came from.
type Source string

const (
	FromFlag       Source = "flag"
	FromEnv        Source = "env"
	FromGitHub     Source = "github-input"
	FromFile       Source = "file"
	FromEnvDefault Source = "env-default"
	FromDefault    Source = "default"
)

// Options are what Load reads.
type Options struct {
	// Flags holds the inputs given on the command line, by input name,
	// list flags already joined with newlines. "config" names a config file.
	Flags map[string]string
	Env   Env
	// Warn receives non-fatal findings (unknown INPUT_* variables).
	Warn func(string)
}

// Loaded is a Config with facts about how it was assembled.
type Loaded struct {
	Config
	// Origin tells, per input name, which source set it.
	Origin map[string]Source
	// File is the config file that was read, "" when none.
	File string
	// Metadata is the docker/metadata-action environment.
	Metadata MetadataEnv
	// Now is SOURCE_DATE_EPOCH when set, else the zero time (meaning: the clock).
	Now time.Time
	// OIDC reports whether a keyless signing identity can be had: GitHub's
	// ACTIONS_ID_TOKEN_REQUEST_URL (id-token: write) or SIGSTORE_ID_TOKEN.
	OIDC bool

	env Env
}

// MetadataEnv holds docker/metadata-action's environment variables.
type MetadataEnv struct {
	ShortSHALength   int      // DOCKER_METADATA_SHORT_SHA_LENGTH, 0 when unset
	PRHeadSHA        bool     // DOCKER_METADATA_PR_HEAD_SHA
	AnnotationLevels []string // DOCKER_METADATA_ANNOTATIONS_LEVELS, nil when unset
}

// Load assembles the Config: flags > SLIPWAY_* > INPUT_* > file > defaults.
// Every error is an *errs.InputError naming the input.
func Load(opts Options) (*Loaded, error) {
	if opts.Warn == nil {
		opts.Warn = func(string) {}
	}
	raw := map[string]string{}
	origin := map[string]Source{}
	set := func(name, value string, src Source) {
		if _, done := origin[name]; !done {
			raw[name], origin[name] = value, src
		}
	}
	for name, v := range opts.Flags {
		if name == "config" {
			continue
		}
		if _, ok := Lookup(name); !ok {
			return nil, errs.Input(name, "unknown input (expected an input name, see slipway run --help)")
		}
		set(name, v, FromFlag)
	}
	for _, in := range Inputs() {
		// An empty variable is not given: a CI template maps each of its
		// inputs to SLIPWAY_*, the ones left empty included.
		if v, ok := opts.Env.Lookup(in.EnvName()); ok && v != "" {
			set(in.Name, v, FromEnv)
		}
	}
	for _, in := range Inputs() {
		// @actions/core treats an empty input as not given; GitHub sets
		// INPUT_* for every input declared in action.yml, to action.yml's
		// default when the step does not give it: a value equal to the
		// default is not given either, so that a config file still applies.
		if v, ok := opts.Env.Lookup(in.GitHubEnvName()); ok && v != "" && v != in.Default {
			set(in.Name, v, FromGitHub)
		}
	}
	warnUnknownInputs(opts.Env, opts.Warn)

	file, explicit := configPath(opts, raw)
	values, err := readFile(file, explicit)
	if err != nil {
		return nil, err
	}
	if values == nil {
		file = ""
	}
	for name, v := range values {
		set(name, v, FromFile)
	}
	for _, in := range Inputs() {
		if v, ok := opts.Env.Lookup(in.EnvDefault); ok && in.EnvDefault != "" && v != "" {
			set(in.Name, v, FromEnvDefault)
		}
		set(in.Name, in.Default, FromDefault)
	}

	l := &Loaded{Origin: origin, File: file, env: opts.Env}
	if err := decode(&l.Config, raw); err != nil {
		return nil, err
	}
	if l.Metadata, err = metadataEnv(opts.Env); err != nil {
		return nil, err
	}
	if l.Now, err = sourceDateEpoch(opts.Env); err != nil {
		return nil, err
	}
	for _, k := range []string{EnvGitHubTokenURL, EnvSigstoreIDToken} {
		if v, ok := opts.Env.Lookup(k); ok && v != "" {
			l.OIDC = true
		}
	}
	return l, nil
}

// configPath returns the config file to read and whether it was named
// explicitly (then it must exist).
func configPath(opts Options, raw map[string]string) (string, bool) {
	if p := opts.Flags["config"]; p != "" {
		return p, true
	}
	for _, k := range []string{"SLIPWAY_CONFIG", "INPUT_CONFIG"} {
		if p, ok := opts.Env.Lookup(k); ok && p != "" {
			return p, true
		}
	}
	ctxDir := raw["context"]
	if ctxDir == "" {
		in, _ := Lookup("context")
		ctxDir = in.Default
	}
	return filepath.Join(ctxDir, DefaultFile), false
}

// readFile reads a YAML config file whose keys are input names. It returns
// nil values when the file is absent and was not named explicitly.
func readFile(path string, explicit bool) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The default file in a context that is not a directory: the
		// context input is at fault, and ValidateBuild says so.
		if !explicit && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
			return nil, nil
		}
		return nil, errs.WrapInput("config", err, "reading config file %s (expected a readable YAML file)", path)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file
			return map[string]string{}, nil
		}
		return nil, errs.WrapInput("config", err, "parsing config file %s (expected YAML)", path)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, errs.Input("config", "%s: expected a mapping of input names to values", path)
	}
	out := map[string]string{}
	line := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		in, ok := Lookup(k.Value)
		if !ok {
			return nil, errs.Input("config", "%s:%d: unknown key %q (expected an input name such as tags, platforms or images)", path, k.Line, k.Value)
		}
		if first, dup := line[in.Name]; dup {
			return nil, errs.Input("config", "%s:%d: %q is given twice (first on line %d)", path, k.Line, k.Value, first)
		}
		line[in.Name] = k.Line
		if v.ShortTag() == "!!null" {
			continue // key: (nothing), null or ~: as if not given
		}
		s, err := nodeValue(in, v)
		if err != nil {
			return nil, errs.Input(in.Name, "%s:%d: %v", path, v.Line, err)
		}
		out[in.Name] = s
	}
	return out, nil
}

// scalar is a YAML scalar as YAML reads it (an explicitly tagged one,
// !!binary say, decoded), in its text form.
func scalar(v *yaml.Node) (string, error) {
	if v.Style&yaml.TaggedStyle == 0 {
		return v.Value, nil
	}
	var s string
	if err := v.Decode(&s); err != nil {
		return "", fmt.Errorf("expected a string: %w", err)
	}
	return s, nil
}

// nodeValue turns a YAML value into the input's string form: a scalar as
// it is, a sequence as one entry per line.
func nodeValue(in Input, v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return scalar(v)
	case yaml.SequenceNode:
		if in.Kind != KindList && !in.Lines {
			return "", fmt.Errorf("expected a single value, got a list")
		}
		lines := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.ShortTag() == "!!null" {
				return "", fmt.Errorf("expected a list of strings")
			}
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			lines = append(lines, s)
		}
		return strings.Join(lines, "\n"), nil
	default:
		return "", fmt.Errorf("expected a string or a list of strings")
	}
}

// PartialResults are the partial runs' results that SLIPWAY_RESULT_PARTIAL_*
// variables hold (the partial jobs' slipway.env, which GitLab passes to
// a merge job that needs them), by variable name.
func (l *Loaded) PartialResults() []string {
	var keys []string
	vals := map[string]string{}
	for _, kv := range l.env.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, ResultEnvPrefix+"PARTIAL_") && strings.TrimSpace(v) != "" {
			keys = append(keys, k)
			vals[k] = v
		}
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = vals[k]
	}
	return out
}

// ResultEnvPrefix starts the names of the variables slipway.env passes to
// later GitLab jobs (SLIPWAY_RESULT_DIGEST, ...): no input has that prefix,
// and they are not warned about, so a later slipway job is not configured
// by an earlier one's results.
const ResultEnvPrefix = "SLIPWAY_RESULT_"

func warnUnknownInputs(env Env, warn func(string)) {
	var unknown []string
	for _, kv := range env.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range []string{"INPUT_", "SLIPWAY_"} {
			if !strings.HasPrefix(k, p) || k == p+"CONFIG" || strings.HasPrefix(k, ResultEnvPrefix) || k == CommandInput.GitHubEnvName() {
				continue
			}
			name := strings.ToLower(strings.TrimPrefix(k, p))
			if p == "SLIPWAY_" {
				name = strings.ReplaceAll(name, "_", "-")
			}
			if _, ok := Lookup(name); !ok {
				unknown = append(unknown, k)
			}
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		warn(fmt.Sprintf("ignoring %s: slipway has no input of that name", k))
	}
}

// decode sets each Config field from its raw string.
func decode(c *Config, raw map[string]string) error {
	for _, in := range Inputs() {
		s := raw[in.Name]
		if !utf8.ValidString(s) {
			// Inputs are text (YAML, environment variables); the value is
			// not echoed, it may be a secret.
			i := 0
			for i < len(s) {
				r, n := utf8.DecodeRuneInString(s[i:])
				if r == utf8.RuneError && n <= 1 {
					break
				}
				i += n
			}
			return errs.Input(in.Name, "is not valid UTF-8 (at byte %d)", i)
		}
		f := fieldValue(c, in)
		switch in.Kind {
		case KindBool:
			b, err := ParseBool(s)
			if err != nil {
				return errs.Input(in.Name, "expected true or false, got %q", s)
			}
			f.SetBool(b)
		case KindList:
			l, err := csvlist.Split(s, in.List)
			if err != nil {
				return errs.WrapInput(in.Name, err, "malformed list entry (expected comma- or newline-separated values, CSV-quoted where needed)")
			}
			f.Set(reflect.ValueOf(l))
		default:
			f.SetString(s)
		}
	}
	return nil
}

// ParseBool accepts the YAML 1.2 core booleans as @actions/core's
// getBooleanInput does: true, True, TRUE, false, False, FALSE.
func ParseBool(s string) (bool, error) {
	switch s {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

func metadataEnv(env Env) (MetadataEnv, error) {
	var m MetadataEnv
	if v, ok := env.Lookup("DOCKER_METADATA_SHORT_SHA_LENGTH"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 40 {
			return m, errs.Input("DOCKER_METADATA_SHORT_SHA_LENGTH", "expected a number from 1 to 40, got %q", v)
		}
		m.ShortSHALength = n
	}
	if v, ok := env.Lookup("DOCKER_METADATA_PR_HEAD_SHA"); ok && v != "" {
		b, err := ParseBool(v)
		if err != nil {
			return m, errs.Input("DOCKER_METADATA_PR_HEAD_SHA", "expected true or false, got %q", v)
		}
		m.PRHeadSHA = b
	}
	if v, ok := env.Lookup("DOCKER_METADATA_ANNOTATIONS_LEVELS"); ok && v != "" {
		for _, l := range strings.Split(v, ",") {
			m.AnnotationLevels = append(m.AnnotationLevels, strings.TrimSpace(l))
		}
	}
	return m, nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (seconds since the epoch).
func sourceDateEpoch(env Env) (time.Time, error) {
	v, ok := env.Lookup("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, errs.Input("SOURCE_DATE_EPOCH", "expected seconds since the Unix epoch, got %q", v)
	}
	return time.Unix(n, 0).UTC(), nil
}
