package build

import (
	"fmt"

	"github.com/moby/buildkit/client"

	"github.com/slipway-ci/slipway/internal/config"
)

// cacheEntries parses cache-from or cache-to entries. A bare reference in
// cache-from means type=registry,ref=<it>. type=gha gets the runner's
// cache service settings (version=2 where ACTIONS_RESULTS_URL is set: a
// container action does not get ACTIONS_CACHE_SERVICE_V2). Cache exports
// ignore their errors (a warning in the progress) unless the entry says
// ignore-error=false.
func cacheEntries(entries []string, export bool, gha config.GHACache) ([]client.CacheOptionsEntry, error) {
	var out []client.CacheOptionsEntry
	for _, e := range entries {
		attrs, err := config.ParseCacheEntry(e, !export)
		if err != nil {
			return nil, fmt.Errorf("cache entry %s: %w", config.RedactAttrs(e), err)
		}
		t := attrs["type"]
		delete(attrs, "type")
		if t == "gha" {
			setDefault(attrs, "url", gha.URL)
			setDefault(attrs, "token", gha.Token)
			if gha.URLv2 != "" {
				setDefault(attrs, "url_v2", gha.URLv2)
				setDefault(attrs, "version", "2")
			}
			if attrs["token"] == "" {
				return nil, fmt.Errorf("cache entry %s: type=gha needs the GitHub Actions runtime (ACTIONS_RUNTIME_TOKEN)", config.RedactAttrs(e))
			}
		}
		if export && t != "inline" {
			setDefault(attrs, "ignore-error", "true")
		}
		out = append(out, client.CacheOptionsEntry{Type: t, Attrs: attrs})
	}
	return out, nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok && v != "" {
		m[k] = v
	}
}
