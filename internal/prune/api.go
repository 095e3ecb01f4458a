package prune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
)

// maxPages bounds the pages one listing of a hosted registry's API reads.
const maxPages = 1000

// api is a hosted registry's REST API: JSON over HTTPS with a token in a
// header, listings paged by the Link header (GitHub's and GitLab's way).
type api struct {
	client *http.Client
	// auth sets the credential on a request.
	auth func(*http.Request)
}

// apiError is an API's answer other than 2xx.
type apiError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}

// do sends one request and decodes a JSON answer into out (nil: none);
// it returns the next page's URL from the Link header, if any.
func (a *api) do(ctx context.Context, method, url string, out any) (next string, err error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	a.auth(req)
	c := a.client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", &apiError{Method: method, URL: redactQuery(url), Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return "", fmt.Errorf("%s %s: reading the answer: %w", method, redactQuery(url), err)
		}
	}
	if m := linkNext.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
		next = m[1]
	}
	return next, nil
}

// list GETs url and every next page, appending each page's items.
func list[T any](ctx context.Context, a *api, url string) ([]T, error) {
	var all []T
	for range maxPages {
		var page []T
		next, err := a.do(ctx, http.MethodGet, url, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		url = next
	}
	return nil, fmt.Errorf("GET %s: more than %d pages", redactQuery(url), maxPages)
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// redactQuery drops a URL's query, for messages (a token never travels
// there, but a page cursor is noise).
func redactQuery(u string) string {
	for i, c := range u {
		if c == '?' {
			return u[:i]
		}
	}
	return u
}
