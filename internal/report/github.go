package report

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// githubAPI is the issue comments API of one GitHub repository.
type githubAPI struct {
	client      *github.Client
	owner, repo string
}

func newGitHubAPI(apiURL, project, token string, hc *http.Client) (*githubAPI, error) {
	owner, repo, ok := strings.Cut(project, "/")
	if !ok || owner == "" || repo == "" {
		return nil, fmt.Errorf("the GitHub repository %q is not owner/name", project)
	}
	base, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("the GitHub API URL %q: %w", apiURL, err)
	}
	client := github.NewClient(httpClient(hc)).WithAuthToken(token)
	client.BaseURL = base
	return &githubAPI{client: client, owner: owner, repo: repo}, nil
}

// author implements forgeAPI: GET /user, and github-actions[bot] when
// that is forbidden, as it is to GITHUB_TOKEN.
func (g *githubAPI) author(ctx context.Context) (string, error) {
	u, resp, err := g.client.Users.Get(ctx, "")
	if err == nil {
		return u.GetLogin(), nil
	}
	if resp != nil && resp.StatusCode == http.StatusForbidden {
		return actionsBot, nil
	}
	return "", githubError(err, resp)
}

// comments implements forgeAPI: GET /repos/{owner}/{repo}/issues/{n}/comments,
// 100 a page, following the pages GitHub's Link header announces.
func (g *githubAPI) comments(ctx context.Context, number int, yield func(int64, string, string) bool) error {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for range maxCommentPages {
		list, resp, err := g.client.Issues.ListComments(ctx, g.owner, g.repo, number, opts)
		if err != nil {
			return githubError(err, resp)
		}
		for _, c := range list {
			if !yield(c.GetID(), c.GetUser().GetLogin(), c.GetBody()) {
				return nil
			}
		}
		if resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
	return nil
}

// update implements forgeAPI: PATCH /repos/{owner}/{repo}/issues/comments/{id}.
func (g *githubAPI) update(ctx context.Context, _ int, id int64, body string) (string, error) {
	c, resp, err := g.client.Issues.EditComment(ctx, g.owner, g.repo, id, &github.IssueComment{Body: &body})
	if err != nil {
		return "", githubError(err, resp)
	}
	return c.GetHTMLURL(), nil
}

// create implements forgeAPI: POST /repos/{owner}/{repo}/issues/{n}/comments.
func (g *githubAPI) create(ctx context.Context, number int, body string) (string, error) {
	c, resp, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, number, &github.IssueComment{Body: &body})
	if err != nil {
		return "", githubError(err, resp)
	}
	return c.GetHTMLURL(), nil
}

// openChanges implements forgeAPI: GET /repos/{owner}/{repo}/pulls with
// head=owner:branch and state=open (a branch of the repository itself:
// a fork's pull requests get no comment).
func (g *githubAPI) openChanges(ctx context.Context, branch string) ([]int, error) {
	prs, resp, err := g.client.PullRequests.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{
		State: "open", Head: g.owner + ":" + branch, ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return nil, githubError(err, resp)
	}
	var numbers []int
	for _, pr := range prs {
		numbers = append(numbers, pr.GetNumber())
	}
	return numbers, nil
}

// githubError marks a 403 or 404 as errForbidden.
func githubError(err error, resp *github.Response) error {
	var rate *github.RateLimitError
	if resp != nil && !errors.As(err, &rate) && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("%w: %w", errForbidden, err)
	}
	return err
}

// httpClient is hc, or a client with a 10 s timeout.
func httpClient(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Timeout: apiTimeout}
}
