package ci

import (
	"context"
	"fmt"
	"strings"
)

// gitlabProvider reads a GitLab CI job from its predefined CI_* variables
// and maps the pipeline onto GitHub's vocabulary: a merge request pipeline
// is a pull_request on refs/pull/<iid>/merge, a scheduled one a schedule,
// a web/API/trigger one a workflow_dispatch, a push a push.
type gitlabProvider struct {
	env Env
	out *fileOutputs
}

func newGitLab(opts Options) *gitlabProvider {
	return &gitlabProvider{env: opts.Env, out: newFileOutputs(opts.OutputDir)}
}

// Name implements Provider.
func (*gitlabProvider) Name() string { return NameGitLab }

// Detected implements Provider: GITLAB_CI is "true" in every job.
func (p *gitlabProvider) Detected() bool { return p.env.Get("GITLAB_CI") == "true" }

// Outputs implements Provider: a dotenv file and a Markdown summary under
// the output directory.
func (p *gitlabProvider) Outputs() Outputs { return p.out }

// Context implements Provider. Context.DefaultImage is CI_REGISTRY_IMAGE.
func (p *gitlabProvider) Context(_ context.Context, warn func(string)) (*Context, error) {
	if warn == nil {
		warn = nopWarn
	}
	env := p.env
	c := &Context{
		Provider:   NameGitLab,
		SHA:        env.Get("CI_COMMIT_SHA"),
		RunURL:     firstNonEmpty(env.Get("CI_JOB_URL"), env.Get("CI_PIPELINE_URL")),
		Actor:      env.Get("GITLAB_USER_LOGIN"),
		CommitDate: commitTime("CI_COMMIT_TIMESTAMP", env.Get("CI_COMMIT_TIMESTAMP"), warn),
		Repository: Repository{
			Name:          env.Get("CI_PROJECT_PATH"),
			URL:           env.Get("CI_PROJECT_URL"),
			Description:   env.Get("CI_PROJECT_DESCRIPTION"),
			DefaultBranch: env.Get("CI_DEFAULT_BRANCH"),
		},
		DefaultImage: env.Get("CI_REGISTRY_IMAGE"),
	}
	if reg, user, pw := env.Get("CI_REGISTRY"), env.Get("CI_REGISTRY_USER"), env.Get("CI_REGISTRY_PASSWORD"); reg != "" && user != "" && pw != "" {
		c.Credentials = []RegistryCredential{{Registry: reg, Username: user, Password: pw, Source: "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"}}
	}
	if err := p.classify(c); err != nil {
		return nil, err
	}
	c.Forge = p.forge(c)
	return c, nil
}

// forge is the GitLab instance's REST API: CI_API_V4_URL (else
// CI_SERVER_URL/api/v4), and the project that holds the merge request.
func (p *gitlabProvider) forge(c *Context) Forge {
	env := p.env
	api := env.Get("CI_API_V4_URL")
	if api == "" && env.Get("CI_SERVER_URL") != "" {
		api = strings.TrimSuffix(env.Get("CI_SERVER_URL"), "/") + "/api/v4"
	}
	project := firstNonEmpty(env.Get("CI_PROJECT_ID"), env.Get("CI_PROJECT_PATH"))
	if c.PRNumber != 0 {
		project = firstNonEmpty(env.Get("CI_MERGE_REQUEST_PROJECT_ID"), project)
	}
	return Forge{
		Kind: ForgeGitLab, APIURL: strings.TrimSuffix(api, "/"), Project: project,
		JobToken: env.Get("CI_JOB_TOKEN") != "",
	}
}

// classify sets the event and ref fields from CI_PIPELINE_SOURCE and the
// commit variables.
func (p *gitlabProvider) classify(c *Context) error {
	env := p.env
	iid, err := envInt(env, "CI_MERGE_REQUEST_IID")
	if err != nil {
		return fmt.Errorf("reading the GitLab CI context: %w", err)
	}
	source := env.Get("CI_PIPELINE_SOURCE")
	if iid != 0 || source == "merge_request_event" {
		p.classifyMergeRequest(c, iid)
		return nil
	}
	c.Tag = env.Get("CI_COMMIT_TAG")
	if c.Tag == "" {
		c.Branch = firstNonEmpty(env.Get("CI_COMMIT_BRANCH"), env.Get("CI_COMMIT_REF_NAME"))
	}
	c.Ref = firstNonEmpty(tagRef(c.Tag), branchRef(c.Branch))
	switch source {
	case "schedule":
		c.Event, c.EventName = EventSchedule, "schedule"
	case "web", "api", "trigger", "pipeline":
		c.Event, c.EventName = EventManual, "workflow_dispatch"
	default:
		// "push", and sources slipway has no rule for (parent_pipeline,
		// chat, webide, ...), are classified by the ref.
		c.Event, c.EventName = eventFromRef(c.Ref), "push"
	}
	return nil
}

// classifyMergeRequest fills a merge request pipeline's fields. A merge
// request comes from a fork when its source project is not the project
// the pipeline runs in.
func (p *gitlabProvider) classifyMergeRequest(c *Context, iid int) {
	env := p.env
	c.Event, c.EventName = EventPullRequest, "pull_request"
	c.PRNumber = iid
	c.Ref = pullRef(iid)
	c.Branch = env.Get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
	c.BaseRef = env.Get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
	// CI_MERGE_REQUEST_SOURCE_BRANCH_SHA is set in merged results
	// pipelines, where CI_COMMIT_SHA is the merge; otherwise CI_COMMIT_SHA
	// is the source branch's head.
	c.PRHeadSHA = firstNonEmpty(env.Get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"), c.SHA)
	source := env.Get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
	target := firstNonEmpty(env.Get("CI_MERGE_REQUEST_PROJECT_ID"), env.Get("CI_PROJECT_ID"))
	c.Fork = source != "" && target != "" && source != target
}
