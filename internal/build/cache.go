package build

import (
	"fmt"

	"github.com/moby/buildkit/client"

	"github.com/slipway-ci/slipway/internal/attrs"
)

// cacheEntries parses cache-from or cache-to entries. A bare reference in
// cache-from means type=registry,ref=<it>. type=gha gets the runner's
// cache service settings (version=2 where ACTIONS_RESULTS_URL is set: a
// container action does not get ACTIONS_CACHE_SERVICE_V2). Cache exports
// ignore their errors (a warning in the progress) unless the entry says
// ignore-error=false.
func cacheEntries(entries []attrs.Entry, export bool, gha GHACache) ([]client.CacheOptionsEntry, error) {
	var out []client.CacheOptionsEntry
	for _, e := range entries {
		kv, err := attrs.CacheEntry(string(e), !export)
		if err != nil {
			return nil, fmt.Errorf("cache entry %s: %w", e, err)
		}
		t := kv["type"]
		delete(kv, "type")
		if t == "gha" {
			setDefault(kv, "url", gha.URL)
			setDefault(kv, "token", gha.Token)
			if gha.URLv2 != "" {
				setDefault(kv, "url_v2", gha.URLv2)
				setDefault(kv, "version", "2")
			}
			if kv["token"] == "" {
				return nil, fmt.Errorf("cache entry %s: type=gha needs the GitHub Actions runtime (ACTIONS_RUNTIME_TOKEN)", e)
			}
		}
		if export && t != "inline" {
			setDefault(kv, "ignore-error", "true")
		}
		out = append(out, client.CacheOptionsEntry{Type: t, Attrs: kv})
	}
	return out, nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok && v != "" {
		m[k] = v
	}
}
