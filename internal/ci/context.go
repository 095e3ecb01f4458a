// Package ci reads the context slipway runs in (GitHub Actions, GitLab CI,
// Jenkins, or a person's terminal) and writes results back to it. Every
// platform is a Provider; all of them normalise into one Context whose Ref
// and EventName follow GitHub's conventions, so that tag rules behave the
// same everywhere (a GitLab merge request is a pull request, a GitLab
// schedule is a schedule).
//
// All environment access of slipway lives in this package and in
// internal/config.
package ci

import (
	"context"
	"time"
)

// Event is the normalised kind of event that started the run.
type Event string

const (
	EventBranchPush  Event = "branch-push"  // a push to a branch
	EventTagPush     Event = "tag-push"     // a push of a tag
	EventPullRequest Event = "pull-request" // a PR (GitHub) or MR (GitLab) or change request (Jenkins)
	EventSchedule    Event = "schedule"     // a scheduled run
	EventManual      Event = "manual"       // workflow_dispatch, web/api/trigger pipelines, a person's terminal
	EventRelease     Event = "release"      // a GitHub release
)

// Repository describes the repository being built.
type Repository struct {
	Name          string // "owner/name" (GitHub), "group/sub/project" (GitLab)
	URL           string // web URL, e.g. https://github.com/owner/name
	Description   string
	License       string // SPDX id, e.g. "MIT"; empty when unknown
	DefaultBranch string // e.g. "main"
}

// Context is the normalised CI context.
type Context struct {
	Provider string // "github", "gitlab", "jenkins" or "local"
	Event    Event
	// EventName is the event in GitHub's vocabulary ("push", "pull_request",
	// "pull_request_target", "schedule", "release", "workflow_dispatch", ...):
	// metadata-action's rules are written against it. Providers other than
	// GitHub map their own trigger onto the nearest GitHub event.
	EventName string
	// Ref is the git ref in GitHub's form: refs/heads/<branch>,
	// refs/tags/<tag> or refs/pull/<n>/merge.
	Ref       string
	SHA       string // the commit being built (for a PR, the merge or head commit CI checked out)
	Branch    string // branch name for branch pushes; the PR's head branch for PRs
	Tag       string // tag name for tag pushes and releases
	PRNumber  int    // PR/MR/change number, 0 when not a PR
	PRHeadSHA string // head commit of the PR, when known
	// BaseRef is metadata-action's {{base_ref}}: the PR's target branch, or
	// for a tag push the branch the tag was pushed from when the payload says.
	BaseRef    string
	Repository Repository
	RunURL     string    // link to this run/job/build
	Fork       bool      // the change comes from a fork
	CommitDate time.Time // committer date of SHA, zero when unknown
	Actor      string    // who triggered the run, when known
	// Credentials are the registry credentials the platform hands every
	// job (GITHUB_TOKEN for ghcr.io, CI_REGISTRY_USER/PASSWORD for the
	// GitLab registry). They are secrets: never print Password.
	Credentials []RegistryCredential
	// DefaultImage is the image to use when the images input is empty,
	// e.g. CI_REGISTRY_IMAGE on GitLab; empty when the platform has none.
	DefaultImage string
	// Forge is the code host whose API takes the sticky PR/MR comment.
	Forge Forge
}

// Forge kinds.
const (
	ForgeGitHub = "github"
	ForgeGitLab = "gitlab"
)

// Forge is the code host holding the repository and its change requests,
// as far as the environment tells: where the report's sticky PR/MR comment
// goes. The zero Forge is an unknown host (a local run, or Jenkins on a
// host that is neither GitHub nor GitLab).
type Forge struct {
	// Kind is ForgeGitHub or ForgeGitLab; "" when unknown.
	Kind string
	// APIURL is the REST API's base URL: GITHUB_API_URL on GitHub,
	// CI_API_V4_URL on GitLab; on Jenkins derived from CHANGE_URL or
	// GIT_URL (https://api.github.com, https://<host>/api/v3 for GitHub
	// Enterprise, https://<host>/api/v4 for GitLab).
	APIURL string
	// Project is the repository in the API: "owner/name" on GitHub; on
	// GitLab the id (CI_MERGE_REQUEST_PROJECT_ID, the merge request's
	// target project, else CI_PROJECT_ID) or the full path.
	Project string
	// Token authenticates GitHub API calls: the github-token input, else
	// GITHUB_TOKEN. It is a secret: never print it. GitLab's is the
	// gitlab-token input, which the report is given directly.
	Token string
	// JobToken says, on GitLab, that CI_JOB_TOKEN is set: it can read
	// but not post merge request notes.
	JobToken bool
}

// RegistryCredential is a login for one registry host.
type RegistryCredential struct {
	Registry string // host[:port], e.g. ghcr.io
	Username string
	Password string
	// Source names where it came from, for error messages
	// ("GITHUB_TOKEN", "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD").
	Source string
}

// Provider is one CI platform.
type Provider interface {
	// Name is "github", "gitlab", "jenkins" or "local".
	Name() string
	// Detected reports whether the environment is this platform's.
	Detected() bool
	// Context reads the normalised context. warn receives non-fatal
	// problems (an API that could not be reached, say).
	Context(ctx context.Context, warn func(string)) (*Context, error)
	// Outputs returns where step outputs and the job summary go.
	Outputs() Outputs
}

// Outputs writes results back to the platform.
type Outputs interface {
	// SetOutput sets a step output (GitHub) or records it for the
	// platform's own mechanism (a dotenv file on GitLab, a file on
	// Jenkins and locally).
	SetOutput(name, value string) error
	// AddSummary appends Markdown to the job summary.
	AddSummary(markdown string) error
	// Mask asks the platform to hide value from logs.
	Mask(value string)
}
