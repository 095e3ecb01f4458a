package ci

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// GitHubOutputs writes to a GitHub Actions run: step outputs to the
// GITHUB_OUTPUT file, the summary to GITHUB_STEP_SUMMARY, and workflow
// commands (::add-mask::, ::group::) to its writer.
//
// go-githubactions panics when a command cannot be written; GitHubOutputs
// turns those panics into errors, and checks the variables itself so that
// the errors name them.
type GitHubOutputs struct {
	env    Env
	action *githubactions.Action
}

var _ Grouper = (*GitHubOutputs)(nil)

func newGitHubOutputs(env Env, w io.Writer) *GitHubOutputs {
	return &GitHubOutputs{
		env:    env,
		action: githubactions.New(githubactions.WithGetenv(env.Get), githubactions.WithWriter(w)),
	}
}

// SetOutput implements Outputs. Every value, one line or many, is written
// in the heredoc form (name<<delimiter).
func (o *GitHubOutputs) SetOutput(name, value string) error {
	if name == "" {
		return errors.New("setting an output: empty output name")
	}
	return o.fileCommand("GITHUB_OUTPUT", fmt.Sprintf("setting output %q", name), func() {
		o.action.SetOutput(name, value)
	})
}

// AddSummary implements Outputs.
func (o *GitHubOutputs) AddSummary(markdown string) error {
	return o.fileCommand("GITHUB_STEP_SUMMARY", "adding to the job summary", func() {
		o.action.AddStepSummary(markdown)
	})
}

// Mask implements Outputs. The runner masks line by line, so a multi-line
// value is masked one non-blank line at a time. Write errors are ignored:
// they mean the log itself is gone.
func (o *GitHubOutputs) Mask(value string) {
	for line := range strings.Lines(value) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		_ = catch(func() { o.action.AddMask(line) })
	}
}

// Group starts a collapsible group of log lines titled title, up to the
// next EndGroup. Write errors are ignored, as for Mask.
func (o *GitHubOutputs) Group(title string) { _ = catch(func() { o.action.Group(title) }) }

// EndGroup ends the group Group started.
func (o *GitHubOutputs) EndGroup() { _ = catch(o.action.EndGroup) }

// fileCommand runs issue, which appends to the file named by variable, and
// reports an unset variable or a failed write as an error about doing.
func (o *GitHubOutputs) fileCommand(variable, doing string, issue func()) error {
	if o.env.Get(variable) == "" {
		return fmt.Errorf("%s: %s is not set", doing, variable)
	}
	if err := catch(issue); err != nil {
		return fmt.Errorf("%s: writing to %s: %w", doing, variable, err)
	}
	return nil
}

// catch runs f and returns the panic it raised, if any, as an error.
func catch(f func()) (err error) {
	defer func() {
		switch r := recover().(type) {
		case nil:
		case error:
			err = r
		default:
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}
