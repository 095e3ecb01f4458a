package citest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// openAPIPath is where hack/testdeps.sh installs @octokit/openapi's
// description of api.github.com, relative to the repository root.
const openAPIPath = "hack/testdeps/node_modules/@octokit/openapi/generated/api.github.com.json"

// GitHubOperation is one operation of GitHub's REST API description.
type GitHubOperation struct {
	ID     string // operationId, e.g. "issues/create-comment"
	Method string // upper case
	Path   string // template, e.g. /repos/{owner}/{repo}/issues/{issue_number}/comments
	// Query are the query parameters it takes; BodyRequired says it needs
	// a request body, whose object must hold the fields Required.
	Query        []string
	BodyRequired bool
	Required     []string
}

// GitHubAPI is GitHub's official OpenAPI description of api.github.com,
// reduced to what checking a request needs.
type GitHubAPI struct {
	Version string
	ops     []GitHubOperation
}

var githubAPI struct {
	once sync.Once
	api  *GitHubAPI
	err  error
}

// LoadGitHubAPI returns GitHub's REST API description from
// @octokit/openapi (installed by `make testdeps`), read once per test
// binary. The test fails when it is not installed.
func LoadGitHubAPI(t testing.TB) *GitHubAPI {
	t.Helper()
	githubAPI.once.Do(func() {
		root, err := testenv.FindRepoRoot()
		if err == nil {
			githubAPI.api, err = loadGitHubAPI(filepath.Join(root, openAPIPath))
		}
		githubAPI.err = err
	})
	if githubAPI.err != nil {
		t.Fatalf("%v: run `make testdeps` (hack/testdeps.sh) to install @octokit/openapi", githubAPI.err)
	}
	return githubAPI.api
}

// The parts of an OpenAPI 3.0 document loadGitHubAPI reads.
type (
	oaDocument struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters    map[string]oaParameter   `json:"parameters"`
			RequestBodies map[string]oaRequestBody `json:"requestBodies"`
			Schemas       map[string]oaSchema      `json:"schemas"`
		} `json:"components"`
	}
	oaOperation struct {
		OperationID string         `json:"operationId"`
		Parameters  []oaParameter  `json:"parameters"`
		RequestBody *oaRequestBody `json:"requestBody"`
	}
	oaParameter struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	oaRequestBody struct {
		Ref      string `json:"$ref"`
		Required bool   `json:"required"`
		Content  map[string]struct {
			Schema oaSchema `json:"schema"`
		} `json:"content"`
	}
	oaSchema struct {
		Ref      string   `json:"$ref"`
		Required []string `json:"required"`
	}
)

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

func loadGitHubAPI(path string) (*GitHubAPI, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading GitHub's OpenAPI description: %w", err)
	}
	var doc oaDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	param := func(p oaParameter) oaParameter {
		if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
			return doc.Components.Parameters[name]
		}
		return p
	}
	api := &GitHubAPI{Version: doc.Info.Version}
	for tmpl, item := range doc.Paths {
		var common []oaParameter
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &common); err != nil {
				return nil, fmt.Errorf("%s parameters: %w", tmpl, err)
			}
		}
		for _, m := range httpMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, tmpl, err)
			}
			o := GitHubOperation{ID: op.OperationID, Method: strings.ToUpper(m), Path: tmpl}
			for _, p := range append(slices.Clone(common), op.Parameters...) {
				if p = param(p); p.In == "query" {
					o.Query = append(o.Query, p.Name)
				}
			}
			if body := op.RequestBody; body != nil {
				if name, ok := strings.CutPrefix(body.Ref, "#/components/requestBodies/"); ok {
					b := doc.Components.RequestBodies[name]
					body = &b
				}
				o.BodyRequired = body.Required
				schema := body.Content["application/json"].Schema
				if name, ok := strings.CutPrefix(schema.Ref, "#/components/schemas/"); ok {
					schema = doc.Components.Schemas[name]
				}
				o.Required = schema.Required
			}
			api.ops = append(api.ops, o)
		}
	}
	if len(api.ops) == 0 {
		return nil, fmt.Errorf("%s describes no operation", path)
	}
	return api, nil
}

// Operation finds the operation for method on path (without the API's
// base path): the one whose template matches with the most literal
// segments, as a router would.
func (a *GitHubAPI) Operation(method, path string) (GitHubOperation, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestLiterals := GitHubOperation{}, -1
	for _, op := range a.ops {
		if op.Method != strings.ToUpper(method) {
			continue
		}
		tsegs := strings.Split(strings.Trim(op.Path, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, ts := range tsegs {
			switch {
			case strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}"):
				ok = segs[i] != ""
			case ts == segs[i]:
				literals++
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = op, literals
		}
	}
	return best, bestLiterals >= 0
}

// Check says how a request does not fit the description: no operation
// for its method and path, a query parameter the operation does not take,
// or a missing body or required body field. It returns the operation.
func (a *GitHubAPI) Check(method, path string, query url.Values, body []byte) (GitHubOperation, error) {
	op, ok := a.Operation(method, path)
	if !ok {
		return op, fmt.Errorf("%s %s: no such operation in GitHub's REST API %s", method, path, a.Version)
	}
	var errs []error
	for k := range query {
		if !slices.Contains(op.Query, k) {
			errs = append(errs, fmt.Errorf("%s %s (%s): query parameter %q is not one of %q", method, path, op.ID, k, op.Query))
		}
	}
	if len(body) == 0 {
		if op.BodyRequired {
			errs = append(errs, fmt.Errorf("%s %s (%s): no request body", method, path, op.ID))
		}
		return op, errors.Join(errs...)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return op, errors.Join(append(errs, fmt.Errorf("%s %s (%s): the body is not a JSON object: %w", method, path, op.ID, err))...)
	}
	for _, f := range op.Required {
		if _, ok := obj[f]; !ok {
			errs = append(errs, fmt.Errorf("%s %s (%s): the body lacks required field %q", method, path, op.ID, f))
		}
	}
	return op, errors.Join(errs...)
}
