package attrs

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// BuilderNode is one BuildKit node of the builder input when it lists
// several, one per line, as buildx's nodes: an address, then key=value
// words: platforms= (the platforms it builds natively, comma-separated),
// tls-ca=, tls-cert=, tls-key=, tls-servername= (its mTLS files), and
// fallback=true (it may also build, emulating, a platform no node
// lists).
type BuilderNode struct {
	Address   string   `json:"address"`
	Platforms []string `json:"platforms,omitempty"`
	TLS       NodeTLS  `json:"tls,omitzero"`
	Fallback  bool     `json:"fallback,omitempty"`
}

// NodeTLS is a node's mTLS files (paths, not secrets).
type NodeTLS struct {
	CA         string `json:"ca,omitempty"`
	Cert       string `json:"cert,omitempty"`
	Key        string `json:"key,omitempty"`
	ServerName string `json:"servername,omitempty"`
}

// BuilderSchemes are the BuildKit address schemes a builder may have.
var BuilderSchemes = []string{"unix", "tcp", "docker-container", "kube-pod", "podman-container", "ssh", "npipe"}

// CheckBuilderAddress says what is wrong with a BuildKit address.
func CheckBuilderAddress(addr string) error {
	if !strings.Contains(addr, "://") {
		return fmt.Errorf("%q is not a BuildKit address (expected unix://, tcp://, docker-container:// or kube-pod://; for a buildx builder's container, docker-container://buildx_buildkit_<name>0)", addr)
	}
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("%q is not an address (expected unix://, tcp://, docker-container:// or kube-pod://)", addr)
	}
	if !slices.Contains(BuilderSchemes, u.Scheme) {
		return fmt.Errorf("%q: unknown scheme %q (expected unix://, tcp://, docker-container:// or kube-pod://)", addr, u.Scheme)
	}
	return nil
}

// ParseBuilder reads the builder input. A lone address (today's
// meaning: one builder for every platform) gives no nodes; several
// lines, or a line with words after its address, give one node each
// (blank lines and # comments skipped).
func ParseBuilder(s string) ([]BuilderNode, error) {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if s == "" {
		return nil, nil
	}
	if len(lines) == 0 {
		return nil, CheckBuilderAddress(s)
	}
	if len(lines) == 1 && len(strings.Fields(lines[0])) == 1 {
		return nil, CheckBuilderAddress(s) // as given: it is dialled as it is
	}
	var nodes []BuilderNode
	seen := map[string]bool{}
	for i, l := range lines {
		words := strings.Fields(l)
		n := BuilderNode{Address: words[0]}
		if err := CheckBuilderAddress(n.Address); err != nil {
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		if seen[n.Address] {
			return nil, fmt.Errorf("node %d: %s is listed twice", i+1, n.Address)
		}
		seen[n.Address] = true
		for _, w := range words[1:] {
			k, v, ok := strings.Cut(w, "=")
			if !ok || v == "" {
				return nil, fmt.Errorf("node %s: %q is not key=value (expected platforms=, tls-ca=, tls-cert=, tls-key=, tls-servername= or fallback=true)", n.Address, w)
			}
			switch k {
			case "platforms":
				for p := range strings.SplitSeq(v, ",") {
					if p = strings.TrimSpace(p); p != "" && !slices.Contains(n.Platforms, p) {
						n.Platforms = append(n.Platforms, p)
					}
				}
			case "tls-ca":
				n.TLS.CA = v
			case "tls-cert":
				n.TLS.Cert = v
			case "tls-key":
				n.TLS.Key = v
			case "tls-servername":
				n.TLS.ServerName = v
			case "fallback":
				if v != "true" && v != "false" {
					return nil, fmt.Errorf("node %s: fallback=%s (expected true or false)", n.Address, v)
				}
				n.Fallback = v == "true"
			default:
				return nil, fmt.Errorf("node %s: unknown key %q (expected platforms=, tls-ca=, tls-cert=, tls-key=, tls-servername= or fallback=true)", n.Address, k)
			}
		}
		if (n.TLS.Cert == "") != (n.TLS.Key == "") {
			return nil, fmt.Errorf("node %s: tls-cert and tls-key go together", n.Address)
		}
		if len(n.Platforms) == 0 && !n.Fallback {
			return nil, fmt.Errorf("node %s lists no platforms (expected platforms=linux/arm64,…, or fallback=true)", n.Address)
		}
		nodes = append(nodes, n)
	}
	if fb := slices.IndexFunc(nodes, func(n BuilderNode) bool { return n.Fallback }); fb >= 0 {
		if slices.ContainsFunc(nodes[fb+1:], func(n BuilderNode) bool { return n.Fallback }) {
			return nil, fmt.Errorf("more than one node has fallback=true")
		}
	}
	return nodes, nil
}

// AssignPlatforms says which node builds each of platforms: the first
// node listing it, else the fallback node. With no platforms given, each
// node builds those it lists. It returns, per node in order, the
// platforms it builds (nodes building none are dropped), or an error
// naming a platform no node builds.
func AssignPlatforms(nodes []BuilderNode, platforms []string) ([]BuilderNode, error) {
	if len(platforms) == 0 {
		for _, n := range nodes {
			for _, p := range n.Platforms {
				if !slices.Contains(platforms, p) {
					platforms = append(platforms, p)
				}
			}
		}
	}
	builds := make([][]string, len(nodes))
	for _, p := range platforms {
		i := slices.IndexFunc(nodes, func(n BuilderNode) bool { return slices.Contains(n.Platforms, p) })
		if i < 0 {
			i = slices.IndexFunc(nodes, func(n BuilderNode) bool { return n.Fallback })
		}
		if i < 0 {
			return nil, fmt.Errorf("no node builds %s (expected a node with platforms=%s, or one with fallback=true to emulate it)", p, p)
		}
		builds[i] = append(builds[i], p)
	}
	var out []BuilderNode
	for i, n := range nodes {
		if len(builds[i]) == 0 {
			continue
		}
		n.Platforms = builds[i]
		out = append(out, n)
	}
	return out, nil
}
