package ci

import (
	"net/url"
	"path"
	"strings"
)

// parseGitRemote reads a git remote URL, in URL form
// (https://github.com/owner/name.git, ssh://git@host:2222/group/project.git)
// or scp-like form (git@github.com:owner/name.git), into the repository's
// name, the path on its host without ".git" ("owner/name",
// "group/sub/project"), and its web URL. Credentials in the URL are
// dropped. A local path has a name (its last element) but no web URL.
func parseGitRemote(raw string) (name, webURL string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", ""
	}
	scheme, host, p, ok := splitRemote(raw)
	if !ok {
		return strings.TrimSuffix(path.Base(filepathToSlash(raw)), ".git"), ""
	}
	name = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	if name == "" || host == "" {
		return name, ""
	}
	return name, scheme + "://" + host + "/" + name
}

// splitRemote returns the web scheme, host and path of a remote that names
// a host, and ok=false for a local path. The web scheme is http for an
// http remote and https for every other transport; the host keeps its port
// only for http(s), since an ssh port is not the web server's.
func splitRemote(raw string) (scheme, host, p string, ok bool) {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Scheme == "file" {
			return "", "", "", false
		}
		switch u.Scheme {
		case "http", "https":
			return u.Scheme, u.Host, u.Path, true
		}
		return "https", u.Hostname(), u.Path, true
	}
	// scp-like: [user@]host:path, recognised, as git does, only when no
	// slash comes before the first colon and that is not a drive letter.
	before, after, found := strings.Cut(raw, ":")
	if !found || strings.Contains(before, "/") || len(before) < 2 {
		return "", "", "", false
	}
	if i := strings.LastIndex(before, "@"); i >= 0 {
		before = before[i+1:]
	}
	return "https", before, after, true
}

// filepathToSlash turns Windows separators into slashes so that path.Base
// finds the last element of either kind of path.
func filepathToSlash(p string) string { return strings.ReplaceAll(p, `\`, "/") }
