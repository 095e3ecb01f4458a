package prune

import (
	"errors"
	"fmt"
	"net/http"
)

// API is the API prune reads and deletes through on a registry.
type API string

const (
	// APIAuto is GitHub's for ghcr.io, GitLab's for registry.gitlab.com
	// and the GitLab registries named, the distribution API elsewhere.
	APIAuto API = "auto"
	// APIDistribution is the OCI distribution API everywhere.
	APIDistribution API = "distribution"
	// APIGitHub is GitHub's Packages API everywhere (GHES's container
	// registry host).
	APIGitHub API = "github"
	// APIGitLab is GitLab's container registry API everywhere (a
	// self-managed GitLab's registry).
	APIGitLab API = "gitlab"
)

// APIs are the API names, in the order --help lists them.
var APIs = []API{APIAuto, APIDistribution, APIGitHub, APIGitLab}

// Hosted are the hosted registries' APIs and credentials: the edge
// (the CLI) reads them from the environment.
type Hosted struct {
	API API
	// GitHubAPIURL is GitHub's REST API root; GitHubToken a token with
	// read:packages and delete:packages.
	GitHubAPIURL, GitHubToken string
	// GitLabAPIURL is GitLab's v4 API root; GitLabToken a personal,
	// project or group access token, or a CI job's token when
	// GitLabJobToken.
	GitLabAPIURL, GitLabToken string
	GitLabJobToken            bool
	// GitLabRegistries are GitLab registry hosts besides
	// registry.gitlab.com (CI_REGISTRY's).
	GitLabRegistries []string
	Client           *http.Client
}

// Registry is base for every registry, with the hosted ones' APIs where
// h.API says.
func (h Hosted) Registry(base *OCI) (Registry, error) {
	gh := &GitHub{OCI: base, APIURL: h.GitHubAPIURL, Token: h.GitHubToken, Client: h.Client}
	gl := &GitLab{OCI: base, APIURL: h.GitLabAPIURL, Token: h.GitLabToken, JobToken: h.GitLabJobToken, Client: h.Client}
	switch h.API {
	case APIAuto, "":
		hosts := map[string]Registry{"ghcr.io": gh, "registry.gitlab.com": gl}
		for _, r := range h.GitLabRegistries {
			hosts[r] = gl
		}
		return ByHost{Default: base, Hosts: hosts}, nil
	case APIDistribution:
		return base, nil
	case APIGitHub:
		return gh, nil
	case APIGitLab:
		return gl, nil
	}
	return nil, fmt.Errorf("unknown API %q (expected %v)", h.API, APIs)
}

// errNoToken says a hosted registry's API was needed without its token.
var errNoToken = errors.New("no token")
