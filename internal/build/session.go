package build

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"

	"github.com/slipway-ci/slipway/internal/attrs"
)

// attachables returns the session services BuildKit calls back into:
// registry credentials from the keychain, build secrets, SSH forwarding.
func attachables(keychain authn.Keychain, secrets []attrs.Secret, ssh []string) ([]session.Attachable, error) {
	values := map[string][]byte{}
	for _, s := range secrets {
		switch {
		case s.Src != "":
			data, err := os.ReadFile(s.Src)
			if err != nil {
				return nil, fmt.Errorf("reading secret %q from %s: %w", s.ID, s.Src, err)
			}
			values[s.ID] = data
		default:
			values[s.ID] = []byte(s.Value)
		}
	}
	out := []session.Attachable{
		authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
			AuthConfigProvider: keychainAuth(keychain),
		}),
		secretsprovider.FromMap(values),
	}
	if len(ssh) > 0 {
		var confs []sshprovider.AgentConfig
		for _, e := range ssh {
			id, paths, _ := strings.Cut(e, "=")
			c := sshprovider.AgentConfig{ID: id}
			if paths != "" {
				c.Paths = strings.Split(paths, ",")
			}
			confs = append(confs, c)
		}
		sp, err := sshprovider.NewSSHAgentProvider(confs)
		if err != nil {
			return nil, fmt.Errorf("setting up ssh forwarding: %w", err)
		}
		out = append(out, sp)
	}
	return out, nil
}

// keychainAuth adapts a go-containerregistry keychain to BuildKit's
// session auth provider, so the build and every later stage log in with
// the same credentials.
func keychainAuth(k authn.Keychain) authprovider.AuthConfigProvider {
	return func(ctx context.Context, host string, _ []string, _ authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
		if host == authprovider.DockerHubRegistryHost {
			host = name.DefaultRegistry
		}
		reg, err := name.NewRegistry(host)
		if err != nil {
			return types.AuthConfig{}, fmt.Errorf("registry host %q: %w", host, err)
		}
		a, err := authn.Resolve(ctx, k, reg)
		if err != nil {
			return types.AuthConfig{}, err
		}
		cfg, err := authn.Authorization(ctx, a)
		if err != nil {
			return types.AuthConfig{}, fmt.Errorf("credentials for %s: %w", host, err)
		}
		return types.AuthConfig{
			Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
			IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken, ServerAddress: host,
		}, nil
	}
}
