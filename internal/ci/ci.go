package ci

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
)

// Provider names, as the --ci flag and Provider.Name spell them.
const (
	NameGitHub  = "github"
	NameGitLab  = "gitlab"
	NameJenkins = "jenkins"
	NameLocal   = "local"
)

// DefaultOutputDir is where providers other than GitHub write outputs and
// the summary when Options.OutputDir is empty.
const DefaultOutputDir = ".slipway"

// apiTimeout bounds a call to the GitHub API when Options.HTTPClient is nil.
const apiTimeout = 10 * time.Second

// Options configures a Provider.
type Options struct {
	// Env is the environment to read; nil means environ.OS().
	Env Env
	// GitHubToken authenticates GitHub API calls (the github-token input);
	// empty means GITHUB_TOKEN from Env.
	GitHubToken string
	// ContextDir is the build context directory; the local provider runs
	// git there. Empty means the working directory.
	ContextDir string
	// OutputDir is where non-GitHub providers write slipway.env and
	// slipway-summary.md. Empty means DefaultOutputDir.
	OutputDir string
	// HTTPClient calls the GitHub API; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Offline forbids contacting any API (--dry-run): the GitHub provider
	// then uses the event payload only, without a warning.
	Offline bool
	// Stdout receives GitHub workflow commands (::add-mask::, ::group::);
	// nil means os.Stdout.
	Stdout io.Writer
	// NoCheckout says the run needs no git checkout (slipway promote):
	// the local provider outside one gives a manual event without a
	// commit instead of an error.
	NoCheckout bool
}

// withDefaults returns o with every empty field set to its default.
func (o Options) withDefaults() Options {
	if o.Env == nil {
		o.Env = environ.OS()
	}
	if o.ContextDir == "" {
		o.ContextDir = "."
	}
	if o.OutputDir == "" {
		o.OutputDir = DefaultOutputDir
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: apiTimeout}
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return o
}

// New returns the provider called name ("github", "gitlab", "jenkins" or
// "local"), whether or not its environment is detected: it serves the --ci
// override. An unknown name is an *errs.InputError for input "ci".
func New(name string, opts Options) (Provider, error) {
	opts = opts.withDefaults()
	switch name {
	case NameGitHub:
		return newGitHub(opts), nil
	case NameGitLab:
		return newGitLab(opts), nil
	case NameJenkins:
		return newJenkins(opts), nil
	case NameLocal:
		return newLocal(opts), nil
	}
	return nil, errs.Input("ci", "unknown CI provider %q (want github, gitlab, jenkins or local)", name)
}

// Detect returns the provider whose environment is present: GitHub Actions
// (GITHUB_ACTIONS=true), GitLab CI (GITLAB_CI=true), Jenkins (JENKINS_URL
// set), else the local provider.
func Detect(opts Options) Provider {
	opts = opts.withDefaults()
	for _, p := range []Provider{newGitHub(opts), newGitLab(opts), newJenkins(opts)} {
		if p.Detected() {
			return p
		}
	}
	return newLocal(opts)
}

// Grouper is implemented by outputs that can fold log lines into a
// collapsible group (GitHub's ::group::). Callers type-assert for it:
//
//	if g, ok := out.(ci.Grouper); ok { g.Group("build"); defer g.EndGroup() }
type Grouper interface {
	Group(title string)
	EndGroup()
}
