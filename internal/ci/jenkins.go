package ci

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// jenkinsProvider reads a Jenkins build from the variables the Git plugin
// and multibranch pipelines set. A change request (a PR build of a
// multibranch job, BRANCH_NAME=PR-<n>) has CHANGE_ID; a tag build TAG_NAME.
type jenkinsProvider struct {
	env         Env
	githubToken string // the github-token input
	out         *fileOutputs
}

func newJenkins(opts Options) *jenkinsProvider {
	return &jenkinsProvider{env: opts.Env, githubToken: opts.GitHubToken, out: newFileOutputs(opts.OutputDir)}
}

// Name implements Provider.
func (*jenkinsProvider) Name() string { return NameJenkins }

// Detected implements Provider: JENKINS_URL is set in every build.
func (p *jenkinsProvider) Detected() bool { return p.env.Get("JENKINS_URL") != "" }

// Outputs implements Provider: a dotenv file and a Markdown summary under
// the output directory.
func (p *jenkinsProvider) Outputs() Outputs { return p.out }

// Context implements Provider. Jenkins does not say which branch is the
// default, so Repository.DefaultBranch stays empty.
func (p *jenkinsProvider) Context(context.Context, func(string)) (*Context, error) {
	env := p.env
	c := &Context{
		Provider:   NameJenkins,
		SHA:        env.Get("GIT_COMMIT"),
		RunURL:     env.Get("BUILD_URL"),
		Actor:      env.Get("CHANGE_AUTHOR"),
		Repository: p.repository(),
		Forge:      p.forge(),
	}
	if err := p.classify(c); err != nil {
		return nil, err
	}
	return c, nil
}

// classify sets the event and ref fields: a change request, else a tag,
// else a branch; a build with none of them (a freestyle job started by
// hand without the Git plugin's variables) is manual.
func (p *jenkinsProvider) classify(c *Context) error {
	env := p.env
	if env.Get("CHANGE_ID") != "" {
		n, err := envInt(env, "CHANGE_ID")
		if err != nil {
			return fmt.Errorf("reading the Jenkins context: %w", err)
		}
		c.Event, c.EventName = EventPullRequest, "pull_request"
		c.PRNumber, c.Ref = n, pullRef(n)
		c.Branch = env.Get("CHANGE_BRANCH")
		c.BaseRef = env.Get("CHANGE_TARGET")
		// CHANGE_FORK names the fork a change comes from and is unset
		// for a change from the repository itself.
		c.Fork = env.Get("CHANGE_FORK") != ""
		return nil
	}
	if c.Tag = env.Get("TAG_NAME"); c.Tag != "" {
		c.Event, c.EventName, c.Ref = EventTagPush, "push", tagRef(c.Tag)
		return nil
	}
	// BRANCH_NAME in multibranch jobs; GIT_BRANCH ("origin/main") from the
	// Git plugin in others.
	c.Branch = firstNonEmpty(env.Get("BRANCH_NAME"), strings.TrimPrefix(env.Get("GIT_BRANCH"), "origin/"))
	if c.Branch == "" {
		c.Event, c.EventName = EventManual, "workflow_dispatch"
		return nil
	}
	c.Event, c.EventName, c.Ref = EventBranchPush, "push", branchRef(c.Branch)
	return nil
}

// repository names the repository after GIT_URL or, without one, after
// the job: JOB_NAME less its last element in a multibranch job, where
// that element is the branch. Without GIT_URL, the web URL is read off
// CHANGE_URL when the build is a change request.
func (p *jenkinsProvider) repository() Repository {
	env := p.env
	name, web := parseGitRemote(env.Get("GIT_URL"))
	if name == "" {
		name = env.Get("JOB_NAME")
		if env.Get("BRANCH_NAME") != "" && strings.Contains(name, "/") {
			name = path.Dir(name)
		}
	}
	if web == "" {
		web = repoURLFromChangeURL(env.Get("CHANGE_URL"))
	}
	return Repository{Name: name, URL: web}
}

// forge recognises the code host from CHANGE_URL, else GIT_URL: GitHub
// for a pull request URL (/pull/<n>) or github.com, GitLab for a merge
// request URL (/-/merge_requests/<n>), gitlab.com or a host named gitlab.
// Its API is https://api.github.com on github.com, https://<host>/api/v3
// on GitHub Enterprise Server and https://<host>/api/v4 on GitLab. The
// GitHub token is the github-token input, else GITHUB_TOKEN.
func (p *jenkinsProvider) forge() Forge {
	env := p.env
	change := env.Get("CHANGE_URL")
	web := repoURLFromChangeURL(change)
	if web == "" {
		_, web = parseGitRemote(env.Get("GIT_URL"))
	}
	u, err := url.Parse(web)
	if web == "" || err != nil || u.Host == "" {
		return Forge{}
	}
	host := strings.ToLower(u.Hostname())
	f := Forge{Project: strings.Trim(u.Path, "/")}
	switch {
	case strings.Contains(change, "/-/merge_requests/"), host == "gitlab.com", strings.Contains(host, "gitlab"):
		f.Kind, f.APIURL = ForgeGitLab, u.Scheme+"://"+u.Host+"/api/v4"
	case strings.Contains(change, "/pull/"), host == "github.com":
		f.Kind, f.APIURL = ForgeGitHub, u.Scheme+"://"+u.Host+"/api/v3"
		if host == "github.com" {
			f.APIURL = defaultGitHubAPIURL
		}
		f.Token = firstNonEmpty(p.githubToken, env.Get("GITHUB_TOKEN"))
	default:
		return Forge{}
	}
	return f
}

// changePaths are the path elements that separate a repository's web URL
// from a change request's number on GitHub, GitLab and Bitbucket.
var changePaths = []string{"/pull/", "/-/merge_requests/", "/pull-requests/"}

// repoURLFromChangeURL returns the repository part of a change request's
// URL, e.g. https://github.com/o/r for https://github.com/o/r/pull/7, or ""
// when the URL has no known form.
func repoURLFromChangeURL(u string) string {
	for _, sep := range changePaths {
		if i := strings.LastIndex(u, sep); i > 0 {
			return u[:i]
		}
	}
	return ""
}
