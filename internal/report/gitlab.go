package report

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// gitlabAPI is the merge request notes API of one GitLab project.
type gitlabAPI struct {
	client  *gitlab.Client
	project string // id or full path
	webURL  string // the project's web URL, for links to notes; may be ""
}

func newGitLabAPI(apiURL, project, token, webURL string, hc *http.Client) (*gitlabAPI, error) {
	client, err := gitlab.NewClient(token, gitlab.WithBaseURL(apiURL), gitlab.WithHTTPClient(httpClient(hc)), gitlab.WithoutRetries())
	if err != nil {
		return nil, fmt.Errorf("the GitLab API URL %q: %w", apiURL, err)
	}
	return &gitlabAPI{client: client, project: project, webURL: strings.TrimSuffix(webURL, "/")}, nil
}

// author implements forgeAPI: GET /user.
func (g *gitlabAPI) author(ctx context.Context) (string, error) {
	u, _, err := g.client.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		return "", gitlabError(err)
	}
	return u.Username, nil
}

// comments implements forgeAPI: GET /projects/:id/merge_requests/:iid/notes,
// 100 a page, oldest first, following X-Next-Page. System notes are
// skipped.
func (g *gitlabAPI) comments(ctx context.Context, number int, yield func(int64, string, string) bool) error {
	opts := &gitlab.ListMergeRequestNotesOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100},
		OrderBy:     gitlab.Ptr("created_at"), Sort: gitlab.Ptr("asc"),
	}
	for range maxCommentPages {
		notes, resp, err := g.client.Notes.ListMergeRequestNotes(g.project, number, opts, gitlab.WithContext(ctx))
		if err != nil {
			return gitlabError(err)
		}
		for _, n := range notes {
			if !n.System && !yield(int64(n.ID), n.Author.Username, n.Body) {
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

// update implements forgeAPI: PUT /projects/:id/merge_requests/:iid/notes/:note_id.
func (g *gitlabAPI) update(ctx context.Context, number int, id int64, body string) (string, error) {
	n, _, err := g.client.Notes.UpdateMergeRequestNote(g.project, number, int(id), &gitlab.UpdateMergeRequestNoteOptions{Body: &body}, gitlab.WithContext(ctx))
	if err != nil {
		return "", gitlabError(err)
	}
	return g.noteURL(number, n.ID), nil
}

// create implements forgeAPI: POST /projects/:id/merge_requests/:iid/notes.
func (g *gitlabAPI) create(ctx context.Context, number int, body string) (string, error) {
	n, _, err := g.client.Notes.CreateMergeRequestNote(g.project, number, &gitlab.CreateMergeRequestNoteOptions{Body: &body}, gitlab.WithContext(ctx))
	if err != nil {
		return "", gitlabError(err)
	}
	return g.noteURL(number, n.ID), nil
}

// openChanges implements forgeAPI: GET /projects/:id/merge_requests with
// source_branch and state=opened, the project's own (not forks').
func (g *gitlabAPI) openChanges(ctx context.Context, branch string) ([]int, error) {
	mrs, _, err := g.client.MergeRequests.ListProjectMergeRequests(g.project, &gitlab.ListProjectMergeRequestsOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100}, State: gitlab.Ptr("opened"), SourceBranch: &branch,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, gitlabError(err)
	}
	var iids []int
	for _, mr := range mrs {
		// A fork's merge request from a branch of the same name is not
		// this push's change.
		if mr.SourceProjectID == mr.TargetProjectID {
			iids = append(iids, mr.IID)
		}
	}
	return iids, nil
}

func (g *gitlabAPI) noteURL(number, id int) string {
	if g.webURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/-/merge_requests/%d#note_%d", g.webURL, number, id)
}

// gitlabError marks a 401, 403 or 404 as errForbidden.
func gitlabError(err error) error {
	var e *gitlab.ErrorResponse
	if errors.As(err, &e) && e.Response != nil {
		switch e.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return fmt.Errorf("%w: %w", errForbidden, err)
		}
	}
	return err
}
