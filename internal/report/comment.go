package report

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/mode"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// The sticky comment: one comment per change request and image, found
// again by a hidden marker and its author, edited on every run.
//
//   - comment: never posts nothing; auto comments on pull (merge)
//     requests but not from a fork, whose token is read-only; always tries
//     on a fork too.
//   - On a branch push (GitHub has no PR number then, GitLab no MR iid),
//     the open change requests from that branch are looked up and their
//     sticky comment, when there is one, is updated; none is created.
//   - The comment is the author's: the marker alone is not enough, since
//     anyone can paste it. The author is the token's user (GET /user).
//     GitHub's GITHUB_TOKEN is an installation token that GET /user
//     refuses (403 "Resource not accessible by integration"): its comments
//     are github-actions[bot]'s, so a 403 there means that author. (The
//     token of another GitHub App fails the same way, and its comments,
//     posted as <app>[bot], are then not found again: use GITHUB_TOKEN or
//     a personal access token.)
//   - Comment errors never fail the run: the summary's warnings say why
//     there is no comment.

// actionsBot is the author of the comments GITHUB_TOKEN posts.
const actionsBot = "github-actions[bot]"

// maxCommentPages bounds the listing of a change request's comments: 50
// pages of 100. Past it, a new comment is created.
const maxCommentPages = 50

// forgeAPI is the comments API of one code host.
type forgeAPI interface {
	// author is the login of the token's user.
	author(ctx context.Context) (string, error)
	// comments calls yield with each comment of change request number,
	// page by page (at most maxCommentPages), until yield returns false.
	comments(ctx context.Context, number int, yield func(id int64, author, body string) bool) error
	update(ctx context.Context, number int, id int64, body string) (url string, err error)
	create(ctx context.Context, number int, body string) (url string, err error)
	// openChanges lists the open change requests from branch.
	openChanges(ctx context.Context, branch string) ([]int, error)
}

// errForbidden marks an API answer that the token may not do this (403,
// or a 404 hiding a private resource).
var errForbidden = errors.New("forbidden")

// marker is the hidden first line of the sticky comment, stable across
// runs: per image repository (the first one), else per Dockerfile.
func marker(p *pipeline.Plan) string {
	key := p.Build.File
	if len(p.Publish.Repositories) > 0 {
		key = p.Publish.Repositories[0].Name()
	}
	key = strings.NewReplacer("--", "-", ">", "", "\n", "").Replace(key)
	return "<!-- slipway:sticky:" + key + " -->"
}

// sticky updates the comment of change request number that holds marker
// and was written by me (the token's user), else creates one when create
// is set. It returns "updated", "created" or "" (none found, none
// created).
func sticky(ctx context.Context, api forgeAPI, me string, number int, marker, body string, create bool) (action, url string, err error) {
	var found int64
	err = api.comments(ctx, number, func(id int64, author, text string) bool {
		if strings.EqualFold(author, me) && strings.Contains(text, marker) {
			found = id
			return false
		}
		return true
	})
	if err != nil {
		return "", "", fmt.Errorf("listing the comments: %w", err)
	}
	if found != 0 {
		url, err = api.update(ctx, number, found, body)
		if err != nil {
			return "", "", fmt.Errorf("updating comment %d: %w", found, err)
		}
		return "updated", url, nil
	}
	if !create {
		return "", "", nil
	}
	if url, err = api.create(ctx, number, body); err != nil {
		return "", "", fmt.Errorf("creating the comment: %w", err)
	}
	return "created", url, nil
}

// author is the token's user, whose comments are slipway's.
func author(ctx context.Context, api forgeAPI) (string, error) {
	me, err := api.author(ctx)
	if err != nil {
		return "", fmt.Errorf("finding the token's user: %w", err)
	}
	return me, nil
}

// comment posts or updates the sticky comment as the mode and the context
// allow. Everything that keeps a comment from a pull request is in the
// returned status's Reason, and in note when the summary should say it.
func (n *Notifier) comment(ctx context.Context, p *pipeline.Plan, body string) (cs CommentStatus, note string) {
	c := n.CI
	cm := n.Comment
	if cm == "" {
		cm = mode.CommentAuto
	}
	skip := func(reason string, tell bool) (CommentStatus, string) {
		skipped := CommentStatus{Action: "skipped", Target: cs.Target, Reason: reason}
		if tell {
			return skipped, fmt.Sprintf("no comment on %s: %s", skipped.Target, reason)
		}
		return skipped, ""
	}
	switch {
	case cm == mode.CommentNever:
		return skip("comment is never", false)
	case c == nil:
		return skip("no CI context", false)
	case c.PRNumber == 0 && c.Event == ci.EventBranchPush && c.Branch != "":
		return n.updateOnPush(ctx, p, body), ""
	case c.PRNumber == 0:
		return skip("not a pull request", false)
	}
	cs.Target = target(c, c.PRNumber)
	if c.Fork && cm == mode.CommentAuto {
		return skip("it comes from a fork, whose token cannot write comments (comment: always tries anyway)", true)
	}
	api, why := n.api(c)
	if api == nil {
		return skip(why, true)
	}
	var action, url string
	me, err := author(ctx, api)
	if err == nil {
		action, url, err = sticky(ctx, api, me, c.PRNumber, marker(p), body, true)
	}
	if err != nil {
		reason := redact(err.Error(), n.tokens()...)
		if errors.Is(err, errForbidden) {
			reason = "the token may not write comments there (" + reason + ")"
			if c.Fork {
				reason += "; a pull request from a fork gets a read-only token"
			}
		}
		return CommentStatus{Action: "failed", Target: cs.Target, Reason: reason}, fmt.Sprintf("could not comment on %s: %s", cs.Target, reason)
	}
	return CommentStatus{Action: action, Target: cs.Target, URL: url}, ""
}

// updateOnPush updates the sticky comment of each open change request
// from the pushed branch, creating none. Failures are the status's reason
// only: a push owes no comment.
func (n *Notifier) updateOnPush(ctx context.Context, p *pipeline.Plan, body string) CommentStatus {
	c := n.CI
	api, why := n.api(c)
	if api == nil {
		return CommentStatus{Action: "skipped", Reason: "branch push: " + why}
	}
	numbers, err := api.openChanges(ctx, c.Branch)
	if err != nil {
		return CommentStatus{Action: "failed", Reason: "finding the open change requests from " + c.Branch + ": " + redact(err.Error(), n.tokens()...)}
	}
	cs := CommentStatus{Action: "skipped", Reason: "no open change request from " + c.Branch + " has a sticky comment"}
	if len(numbers) == 0 {
		return cs
	}
	me, err := author(ctx, api)
	if err != nil {
		return CommentStatus{Action: "failed", Reason: redact(err.Error(), n.tokens()...)}
	}
	var updated []string
	for _, num := range numbers {
		name := target(c, num)
		action, url, err := sticky(ctx, api, me, num, marker(p), body, false)
		switch {
		case err != nil:
			return CommentStatus{Action: "failed", Target: name, Reason: redact(err.Error(), n.tokens()...)}
		case action != "":
			updated = append(updated, name)
			cs = CommentStatus{Action: action, Target: strings.Join(updated, ", "), URL: url}
		}
	}
	return cs
}

// target names change request n as its code host does.
func target(c *ci.Context, n int) string {
	if c.Forge.Kind == ci.ForgeGitLab {
		return changeName(ci.NameGitLab, n)
	}
	return changeName(c.Provider, n)
}

// api returns the comments API of the context's code host, or nil and
// why there is none.
func (n *Notifier) api(c *ci.Context) (forgeAPI, string) {
	f := c.Forge
	switch f.Kind {
	case ci.ForgeGitHub:
		if f.Token == "" {
			return nil, "no GitHub token (set github-token, or GITHUB_TOKEN)"
		}
		if f.APIURL == "" || f.Project == "" {
			return nil, "the GitHub API URL or repository is unknown"
		}
		api, err := newGitHubAPI(f.APIURL, f.Project, f.Token, n.HTTPClient)
		if err != nil {
			return nil, err.Error()
		}
		return api, ""
	case ci.ForgeGitLab:
		if n.GitLabToken == "" {
			why := "set gitlab-token (a project access token with api scope) to get an MR note"
			if f.JobToken {
				why += "; CI_JOB_TOKEN cannot post notes"
			}
			return nil, why
		}
		if f.APIURL == "" || f.Project == "" {
			return nil, "the GitLab API URL (CI_API_V4_URL) or project is unknown"
		}
		api, err := newGitLabAPI(f.APIURL, f.Project, n.GitLabToken, c.Repository.URL, n.HTTPClient)
		if err != nil {
			return nil, err.Error()
		}
		return api, ""
	}
	return nil, "the repository is on neither GitHub nor GitLab"
}

// tokens are the secrets error messages must not show.
func (n *Notifier) tokens() []string {
	var t []string
	if n.CI != nil && n.CI.Forge.Token != "" {
		t = append(t, n.CI.Forge.Token)
	}
	if n.GitLabToken != "" {
		t = append(t, n.GitLabToken)
	}
	return t
}

// redact hides each secret in msg.
func redact(msg string, secrets ...string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	return msg
}
