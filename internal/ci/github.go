package ci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-github/v60/github"
)

// GitHub's defaults for GITHUB_SERVER_URL and GITHUB_API_URL.
const (
	defaultGitHubServerURL = "https://github.com"
	defaultGitHubAPIURL    = "https://api.github.com"
)

// githubProvider reads a GitHub Actions run: the GITHUB_* variables, the
// event payload at GITHUB_EVENT_PATH and, unless offline, the repository's
// metadata from the REST API.
type githubProvider struct {
	opts Options
	out  *GitHubOutputs
}

func newGitHub(opts Options) *githubProvider {
	return &githubProvider{opts: opts, out: newGitHubOutputs(opts.Env, opts.Stdout)}
}

// Name implements Provider.
func (*githubProvider) Name() string { return NameGitHub }

// Detected implements Provider: GITHUB_ACTIONS is "true" on every runner.
func (p *githubProvider) Detected() bool { return p.opts.Env.Get("GITHUB_ACTIONS") == "true" }

// Outputs implements Provider; the value is a *GitHubOutputs.
func (p *githubProvider) Outputs() Outputs { return p.out }

// Context implements Provider. A missing or empty event payload is not an
// error: everything then comes from the environment. A payload that cannot
// be read or parsed is.
func (p *githubProvider) Context(ctx context.Context, warn func(string)) (*Context, error) {
	if warn == nil {
		warn = nopWarn
	}
	env := p.opts.Env
	path := env.Get("GITHUB_EVENT_PATH")
	ev, err := readGitHubPayload(path)
	if err != nil {
		return nil, err
	}
	c := &Context{
		Provider:   NameGitHub,
		EventName:  env.Get("GITHUB_EVENT_NAME"),
		Ref:        firstNonEmpty(env.Get("GITHUB_REF"), ev.Ref),
		SHA:        firstNonEmpty(env.Get("GITHUB_SHA"), ev.After),
		Actor:      firstNonEmpty(env.Get("GITHUB_ACTOR"), ev.Sender.Login),
		RunURL:     p.runURL(),
		CommitDate: commitTime("head_commit.timestamp in "+path, ev.HeadCommit.Timestamp, warn),
	}
	p.classify(c, ev)
	c.Repository = p.repository(ctx, ev, warn)
	c.Forge = Forge{
		Kind: ForgeGitHub, APIURL: p.apiURL(), Token: p.token(),
		Project: firstNonEmpty(env.Get("GITHUB_REPOSITORY"), ev.Repository.FullName),
	}
	if token := p.token(); token != "" {
		// GitHub's token logs in to ghcr.io as any user name; the actor
		// is what docker/login-action uses.
		c.Credentials = []RegistryCredential{{Registry: "ghcr.io", Username: firstNonEmpty(c.Actor, "x-access-token"), Password: token, Source: "github-token (GITHUB_TOKEN)"}}
	}
	return c, nil
}

// classify sets the event kind and the fields that depend on it.
func (p *githubProvider) classify(c *Context, ev *githubPayload) {
	switch name := c.EventName; {
	case name == "push":
		c.Event = eventFromRef(c.Ref)
		// metadata-action's {{base_ref}} for a push is the payload's
		// base_ref: the branch a pushed tag points into, when GitHub knows.
		c.BaseRef = strings.TrimPrefix(ev.BaseRef, headsPrefix)
	case strings.HasPrefix(name, "pull_request"):
		// pull_request, pull_request_target, pull_request_review,
		// pull_request_review_comment, ...
		p.classifyPullRequest(c, ev)
		return
	case name == "schedule":
		c.Event = EventSchedule
	case name == "workflow_dispatch" || name == "repository_dispatch":
		c.Event = EventManual
	case name == "release":
		c.Event = EventRelease
		c.Tag = firstNonEmpty(ev.Release.TagName, strings.TrimPrefix(c.Ref, tagsPrefix))
		c.Ref = tagRef(c.Tag)
		return
	default:
		// Events slipway has no rule for (workflow_run, merge_group,
		// issue_comment, ...) are classified by the ref they run on.
		c.Event = eventFromRef(c.Ref)
	}
	setRefNames(c)
}

// classifyPullRequest fills a pull request's fields from the payload,
// falling back to the environment (GITHUB_HEAD_REF, GITHUB_BASE_REF and the
// number in refs/pull/<n>/merge) when there is none.
func (p *githubProvider) classifyPullRequest(c *Context, ev *githubPayload) {
	env := p.opts.Env
	c.Event = EventPullRequest
	pr := ev.PullRequest
	if pr == nil {
		pr = &githubPullRequest{}
	}
	c.PRNumber = firstNonZero(ev.Number, pr.Number, pullNumber(c.Ref))
	c.Branch = firstNonEmpty(pr.Head.Ref, env.Get("GITHUB_HEAD_REF"))
	c.BaseRef = firstNonEmpty(pr.Base.Ref, env.Get("GITHUB_BASE_REF"))
	c.PRHeadSHA = pr.Head.SHA
	if ev.PullRequest != nil {
		c.Fork = pr.fromFork(firstNonEmpty(ev.Repository.FullName, env.Get("GITHUB_REPOSITORY")))
	}
}

// runURL links to the workflow run, and to the attempt when it is a re-run.
func (p *githubProvider) runURL() string {
	env := p.opts.Env
	repo, id := env.Get("GITHUB_REPOSITORY"), env.Get("GITHUB_RUN_ID")
	if repo == "" || id == "" {
		return ""
	}
	u := p.serverURL() + "/" + repo + "/actions/runs/" + id
	if n, err := envInt(env, "GITHUB_RUN_ATTEMPT"); err == nil && n > 1 {
		u += fmt.Sprintf("/attempts/%d", n)
	}
	return u
}

func (p *githubProvider) serverURL() string {
	return strings.TrimSuffix(firstNonEmpty(p.opts.Env.Get("GITHUB_SERVER_URL"), defaultGitHubServerURL), "/")
}

// repository describes the repository from the payload, completed by the
// REST API unless offline. An API failure is a warning, not an error.
func (p *githubProvider) repository(ctx context.Context, ev *githubPayload, warn func(string)) Repository {
	name := firstNonEmpty(p.opts.Env.Get("GITHUB_REPOSITORY"), ev.Repository.FullName)
	repo := Repository{Name: name}
	if name != "" {
		repo.URL = p.serverURL() + "/" + name
	}
	repo = mergeRepository(repo, ev.Repository.repository())
	if p.opts.Offline || name == "" {
		return repo
	}
	fromAPI, err := p.fetchRepository(ctx, name)
	if err != nil {
		warn(redact(fmt.Sprintf("could not read repository %s from the GitHub API, using the event payload instead: %v", name, err), p.token()))
		return repo
	}
	return mergeRepository(repo, fromAPI)
}

// fetchRepository reads /repos/{owner}/{repo} from GITHUB_API_URL.
func (p *githubProvider) fetchRepository(ctx context.Context, name string) (Repository, error) {
	owner, repoName, ok := strings.Cut(name, "/")
	if !ok || owner == "" || repoName == "" {
		return Repository{}, fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name", name)
	}
	client, err := p.apiClient()
	if err != nil {
		return Repository{}, err
	}
	r, _, err := client.Repositories.Get(ctx, owner, repoName)
	if err != nil {
		return Repository{}, err
	}
	repo := Repository{
		Name:          r.GetFullName(),
		URL:           r.GetHTMLURL(),
		Description:   r.GetDescription(),
		License:       spdxID(r.GetLicense().GetSPDXID()),
		DefaultBranch: r.GetDefaultBranch(),
	}
	return repo, nil
}

// apiClient returns a go-github client for GITHUB_API_URL, authenticated
// with the token when there is one (public repositories need none).
func (p *githubProvider) apiClient() (*github.Client, error) {
	apiURL := p.apiURL()
	base, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("parsing GITHUB_API_URL %q: %w", apiURL, err)
	}
	client := github.NewClient(p.opts.HTTPClient)
	if token := p.token(); token != "" {
		client = client.WithAuthToken(token)
	}
	client.BaseURL = base
	return client, nil
}

// apiURL is GITHUB_API_URL, else https://api.github.com.
func (p *githubProvider) apiURL() string {
	return strings.TrimSuffix(firstNonEmpty(p.opts.Env.Get("GITHUB_API_URL"), defaultGitHubAPIURL), "/")
}

// token is the github-token input, else GITHUB_TOKEN.
func (p *githubProvider) token() string {
	return firstNonEmpty(p.opts.GitHubToken, p.opts.Env.Get("GITHUB_TOKEN"))
}

// githubPayload holds the parts of a webhook event payload slipway reads.
type githubPayload struct {
	Number     int    `json:"number"`
	Ref        string `json:"ref"`
	After      string `json:"after"`
	BaseRef    string `json:"base_ref"`
	HeadCommit struct {
		Timestamp string `json:"timestamp"`
	} `json:"head_commit"`
	PullRequest *githubPullRequest `json:"pull_request"`
	Release     struct {
		TagName string `json:"tag_name"`
	} `json:"release"`
	Repository githubPayloadRepo `json:"repository"`
	Sender     struct {
		Login string `json:"login"`
	} `json:"sender"`
}

type githubPullRequest struct {
	Number int `json:"number"`
	Head   struct {
		Ref  string `json:"ref"`
		SHA  string `json:"sha"`
		Repo *struct {
			FullName string `json:"full_name"`
			Fork     bool   `json:"fork"`
		} `json:"repo"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

// fromFork reports whether the pull request's head lives in another
// repository than repo (the base). A head repository that no longer exists
// (null in the payload) was a deleted fork.
func (pr *githubPullRequest) fromFork(repo string) bool {
	head := pr.Head.Repo
	switch {
	case head == nil:
		return true
	case head.FullName != "" && repo != "":
		return !strings.EqualFold(head.FullName, repo)
	default:
		return head.Fork
	}
}

type githubPayloadRepo struct {
	FullName      string `json:"full_name"`
	HTMLURL       string `json:"html_url"`
	Description   string `json:"description"`
	DefaultBranch string `json:"default_branch"`
	License       struct {
		SPDXID string `json:"spdx_id"`
	} `json:"license"`
}

func (r githubPayloadRepo) repository() Repository {
	return Repository{
		Name:          r.FullName,
		URL:           r.HTMLURL,
		Description:   r.Description,
		License:       spdxID(r.License.SPDXID),
		DefaultBranch: r.DefaultBranch,
	}
}

// readGitHubPayload parses the event payload at path. No path, no file or
// an empty file yield an empty payload.
func readGitHubPayload(path string) (*githubPayload, error) {
	ev := &githubPayload{}
	if path == "" {
		return ev, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ev, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading event payload %s: %w", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return ev, nil
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("parsing event payload %s: %w", path, err)
	}
	return ev, nil
}

// spdxID returns id, except GitHub's "NOASSERTION" (a license it could not
// identify), which is unknown.
func spdxID(id string) string {
	if id == "NOASSERTION" {
		return ""
	}
	return id
}

// redact hides secret in msg.
func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "***")
}
