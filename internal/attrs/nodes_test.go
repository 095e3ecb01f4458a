package attrs

import (
	"reflect"
	"strings"
	"testing"
)

// A lone address keeps its meaning (no nodes); lines give nodes with
// their platforms, mTLS files and fallback; mistakes name the node.
func TestParseBuilder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []BuilderNode
		err  string
	}{
		{in: "", want: nil},
		{in: "tcp://buildkitd:1234", want: nil},
		{in: "docker-container://buildx_buildkit_default", want: nil},
		{in: "mybuilder", err: "is not a BuildKit address"},
		{in: "# nothing\n", err: "is not a BuildKit address"},
		{in: "tcp://amd64:1234 platforms=linux/amd64,linux/386\n\n# arm\ntcp://arm64:1234 platforms=linux/arm64 tls-ca=/ca.pem tls-cert=/c.pem tls-key=/k.pem tls-servername=arm64.ci\n", want: []BuilderNode{
			{Address: "tcp://amd64:1234", Platforms: []string{"linux/amd64", "linux/386"}},
			{Address: "tcp://arm64:1234", Platforms: []string{"linux/arm64"}, TLS: NodeTLS{CA: "/ca.pem", Cert: "/c.pem", Key: "/k.pem", ServerName: "arm64.ci"}},
		}},
		{in: "tcp://one:1234 platforms=linux/amd64", want: []BuilderNode{{Address: "tcp://one:1234", Platforms: []string{"linux/amd64"}}}},
		{in: "tcp://a:1 platforms=linux/amd64\nunix:///run/buildkit/buildkitd.sock fallback=true", want: []BuilderNode{
			{Address: "tcp://a:1", Platforms: []string{"linux/amd64"}},
			{Address: "unix:///run/buildkit/buildkitd.sock", Fallback: true},
		}},
		{in: "tcp://a:1 platforms=linux/amd64\ntcp://b:1", err: "node tcp://b:1 lists no platforms"},
		{in: "tcp://a:1 platforms=linux/amd64\nftp://b:1 platforms=linux/arm64", err: `node 2: "ftp://b:1": unknown scheme`},
		{in: "tcp://a:1 platforms=linux/amd64\ntcp://a:1 platforms=linux/arm64", err: "tcp://a:1 is listed twice"},
		{in: "tcp://a:1 platform=linux/amd64", err: `node tcp://a:1: unknown key "platform"`},
		{in: "tcp://a:1 linux/amd64", err: `"linux/amd64" is not key=value`},
		{in: "tcp://a:1 platforms=linux/amd64 tls-cert=/c.pem", err: "tls-cert and tls-key go together"},
		{in: "tcp://a:1 fallback=yes", err: "fallback=yes"},
		{in: "tcp://a:1 fallback=true\ntcp://b:1 fallback=true", err: "more than one node has fallback=true"},
	} {
		got, err := ParseBuilder(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseBuilder(%q) = %v, want one line saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseBuilder(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// Each platform goes to the first node listing it, else to the fallback;
// nodes with nothing to build drop out; no platforms means every node's.
func TestAssignPlatforms(t *testing.T) {
	nodes := []BuilderNode{
		{Address: "tcp://amd64:1", Platforms: []string{"linux/amd64", "linux/386"}},
		{Address: "tcp://arm64:1", Platforms: []string{"linux/arm64", "linux/amd64"}},
		{Address: "tcp://big:1", Fallback: true},
	}
	got, err := AssignPlatforms(nodes, []string{"linux/arm64", "linux/amd64", "linux/s390x"})
	want := []BuilderNode{
		{Address: "tcp://amd64:1", Platforms: []string{"linux/amd64"}},
		{Address: "tcp://arm64:1", Platforms: []string{"linux/arm64"}},
		{Address: "tcp://big:1", Platforms: []string{"linux/s390x"}, Fallback: true},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("AssignPlatforms = %+v, %v; want %+v", got, err, want)
	}
	got, err = AssignPlatforms(nodes[:2], nil)
	want = []BuilderNode{
		{Address: "tcp://amd64:1", Platforms: []string{"linux/amd64", "linux/386"}},
		{Address: "tcp://arm64:1", Platforms: []string{"linux/arm64"}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("AssignPlatforms(no platforms) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := AssignPlatforms(nodes[:2], []string{"linux/riscv64"}); err == nil || !strings.Contains(err.Error(), "no node builds linux/riscv64") {
		t.Errorf("a platform no node lists: %v", err)
	}
}
