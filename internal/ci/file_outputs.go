package ci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Files fileOutputs writes under its directory (the report stage writes
// them on every provider, under the same names).
const (
	DotenvFile  = "slipway.env"        // KEY=value outputs
	SummaryFile = "slipway-summary.md" // the job summary (Markdown)
)

// fileOutputs writes outputs as KEY=value lines to <dir>/slipway.env (a
// dotenv file GitLab's artifacts:reports:dotenv reads; on Jenkins and
// locally a file to source) and appends the summary to
// <dir>/slipway-summary.md. GitLab, Jenkins and the local provider share it.
// `slipway run` does not write through it: its report (internal/report)
// renders and writes both files itself, on every provider.
type fileOutputs struct {
	dir string

	mu   sync.Mutex
	keys []string          // keys in the order first set
	vals map[string]string // key => value
}

func newFileOutputs(dir string) *fileOutputs {
	return &fileOutputs{dir: dir, vals: map[string]string{}}
}

// SetOutput implements Outputs. The name becomes an upper-case key in which
// every character outside [A-Z0-9_] is "_". A dotenv value is one line, so a
// multi-line value is left out, without an error. The file holds the outputs
// set by this run, the last value of each key; it is rewritten on each call.
func (o *fileOutputs) SetOutput(name, value string) error {
	if name == "" {
		return errors.New("setting an output: empty output name")
	}
	if strings.ContainsAny(value, "\r\n") {
		return nil
	}
	key := dotenvKey(name)
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = value
	kv := make([][2]string, len(o.keys))
	for i, k := range o.keys {
		kv[i] = [2]string{k, o.vals[k]}
	}
	if err := WriteOutputFile(o.dir, DotenvFile, FormatDotenv(kv), false); err != nil {
		return fmt.Errorf("setting output %q: %w", name, err)
	}
	return nil
}

// AddSummary implements Outputs.
func (o *fileOutputs) AddSummary(markdown string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	if err := WriteOutputFile(o.dir, SummaryFile, markdown, true); err != nil {
		return fmt.Errorf("adding to the job summary: %w", err)
	}
	return nil
}

// Mask implements Outputs. It does nothing: GitLab masks through variable
// settings, Jenkins through its credentials binding, and a terminal not at all.
func (*fileOutputs) Mask(string) {}

// FormatDotenv renders KEY=value lines, one per entry, in order. The
// values must be one line each.
func FormatDotenv(kv [][2]string) string {
	var b strings.Builder
	for _, e := range kv {
		fmt.Fprintf(&b, "%s=%s\n", e[0], e[1])
	}
	return b.String()
}

// WriteOutputFile writes data to name under dir, creating both as
// needed, replacing the file or, with appendTo, adding to its end. It is
// the one writer of the output directory's files: the dotenv outputs, the
// summary and the report.
func WriteOutputFile(dir, name, data string, appendTo bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	mode := os.O_TRUNC
	if appendTo {
		mode = os.O_APPEND
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|mode, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dotenvKey upper-cases name and replaces every character outside
// [A-Z0-9_] with "_".
func dotenvKey(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, name)
}
