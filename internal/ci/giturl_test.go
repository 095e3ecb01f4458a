package ci

import "testing"

func TestParseGitRemote(t *testing.T) {
	tests := []struct{ in, name, url string }{
		{"https://github.com/acme/widget.git", "acme/widget", "https://github.com/acme/widget"},
		{"https://github.com/acme/widget", "acme/widget", "https://github.com/acme/widget"},
		{"https://x-access-token:s3cret@github.com/acme/widget.git", "acme/widget", "https://github.com/acme/widget"},
		{"git@github.com:acme/widget.git", "acme/widget", "https://github.com/acme/widget"},
		{"github.com:acme/widget", "acme/widget", "https://github.com/acme/widget"},
		{"ssh://git@gitlab.example.com:2222/group/sub/app.git", "group/sub/app", "https://gitlab.example.com/group/sub/app"},
		{"http://gitlab.local:8080/group/app.git", "group/app", "http://gitlab.local:8080/group/app"},
		{"git://git.example.org/tools/thing.git/", "tools/thing", "https://git.example.org/tools/thing"},
		{"/srv/git/widget.git", "widget", ""},
		{"../widget", "widget", ""},
		{"file:///srv/git/widget.git", "widget", ""},
		{`C:\repos\widget.git`, "widget", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		name, url := parseGitRemote(tt.in)
		if name != tt.name || url != tt.url {
			t.Errorf("parseGitRemote(%q) = %q, %q; want %q, %q", tt.in, name, url, tt.name, tt.url)
		}
	}
}
