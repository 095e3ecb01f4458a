// Package registry talks to OCI registries with go-containerregistry: one
// keychain shared by every stage (the build's session auth, the copy
// between registries, signing and tagging), and publishing by digest.
package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	"github.com/chrismellard/docker-credential-acr-env/pkg/credhelper"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Credential is a login for one registry host (internal/stages translates
// the registry-auth input and the CI platform's logins into these).
type Credential struct {
	Registry string // host[:port], e.g. ghcr.io
	Username string
	Password string
	// Source names where it came from, for error messages
	// ("GITHUB_TOKEN", "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD").
	Source string
}

// Keychain resolves registry credentials, first match wins: explicit
// registry-auth inputs, then what the CI platform hands the job (GHCR with
// GITHUB_TOKEN, GitLab's CI_REGISTRY_*), then the Docker config
// (DOCKER_CONFIG, ~/.docker/config.json, credential helpers), then the
// cloud keychains ko uses, each only for its own registries (ECR, GCR and
// Artifact Registry, ACR), else anonymous.
type Keychain struct {
	explicit []Credential
	fallback authn.Keychain
}

// NewKeychain builds the keychain from credentials, first match wins:
// the registry-auth input's first, then the platform's. fallback is
// consulted for any other host; nil means DefaultFallback.
func NewKeychain(creds []Credential, fallback authn.Keychain) *Keychain {
	k := &Keychain{fallback: fallback}
	if k.fallback == nil {
		k.fallback = DefaultFallback
	}
	for _, c := range creds {
		c.Registry = normalizeHost(c.Registry)
		k.explicit = append(k.explicit, c)
	}
	return k
}

// DefaultFallback is the keychain after the explicit credentials: the
// Docker config, then ko's cloud keychains. Each cloud helper answers only
// for its provider's registry hosts (*.amazonaws.com, gcr.io and
// *.pkg.dev, *.azurecr.io) and anonymous otherwise.
var DefaultFallback = authn.NewMultiKeychain(
	authn.DefaultKeychain,
	google.Keychain,
	authn.NewKeychainFromHelper(ecr.NewECRHelper(ecr.WithLogger(io.Discard))),
	authn.NewKeychainFromHelper(credhelper.NewACRCredentialsHelper()),
)

// normalizeHost maps Docker Hub's aliases onto the name
// go-containerregistry uses for it.
func normalizeHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h = strings.TrimSuffix(h, "/")
	switch h {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return name.DefaultRegistry
	}
	return h
}

// Resolve implements authn.Keychain.
func (k *Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k.lookup(r.RegistryStr()); ok {
		return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}), nil
	}
	a, err := k.fallback.Resolve(r)
	if err != nil {
		return nil, fmt.Errorf("reading registry credentials for %s from the Docker config: %w", r.RegistryStr(), err)
	}
	return a, nil
}

func (k *Keychain) lookup(host string) (Credential, bool) {
	host = normalizeHost(host)
	for _, c := range k.explicit {
		if c.Registry == host {
			return c, true
		}
	}
	return Credential{}, false
}

// Describe names the credential used for host, never its value: for a
// 401/403 message.
func (k *Keychain) Describe(host string) string {
	if c, ok := k.lookup(host); ok {
		return fmt.Sprintf("user %q from %s", c.Username, c.Source)
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		return "no credential"
	}
	a, err := k.fallback.Resolve(reg)
	if err != nil || a == authn.Anonymous {
		return "anonymous (no credential found)"
	}
	return "the Docker config (DOCKER_CONFIG or ~/.docker/config.json) or a cloud keychain"
}

// Secrets returns every password the keychain holds, for masking.
func (k *Keychain) Secrets() []string {
	var out []string
	for _, c := range k.explicit {
		out = append(out, c.Password)
	}
	return out
}

// explain adds, to an authentication failure, which credential was tried
// (never its value).
func (k *Keychain) explain(reg name.Registry, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w (registry %s refused %s)", err, reg.RegistryStr(), k.Describe(reg.RegistryStr()))
	}
	return err
}
