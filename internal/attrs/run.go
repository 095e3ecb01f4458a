package attrs

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// RunSettings are how a build's RUN steps run: build-push-action's
// add-hosts, network, shm-size, ulimit, cgroup-parent, no-cache-filters
// and allow, in the form buildx hands them to BuildKit.
type RunSettings struct {
	// AddHosts are host=ip entries (the frontend's add-hosts).
	AddHosts []string `json:"add-hosts,omitempty"`
	// Network is "", "none" or "host" (the frontend's force-network-mode).
	Network string `json:"network,omitempty"`
	// ShmSize is /dev/shm's size in bytes; 0 leaves BuildKit's.
	ShmSize int64 `json:"shm-size,omitempty"`
	// Ulimits are name=soft:hard entries, sorted by name.
	Ulimits      []string `json:"ulimits,omitempty"`
	CgroupParent string   `json:"cgroup-parent,omitempty"`
	// NoCacheFilters are the stages built without the cache.
	NoCacheFilters []string `json:"no-cache-filters,omitempty"`
	// Entitlements are what the build asks the builder to grant
	// (network.host for network: host, as buildx adds it).
	Entitlements []string `json:"entitlements,omitempty"`
}

// Entitlement names BuildKit knows (its util/entitlements).
var entitlementNames = []string{"network.host", "security.insecure", "device"}

// ParseAddHost reads a build-push-action add-hosts entry, host:ip or
// host=ip (buildx's toBuildkitExtraHosts), as host=ip. host-gateway is
// the Docker Engine builder's, which slipway does not drive.
func ParseAddHost(s string) (string, error) {
	host, ip, ok := strings.Cut(s, "=")
	if !ok {
		host, ip, ok = strings.Cut(s, ":")
	}
	if !ok || host == "" || ip == "" {
		return "", fmt.Errorf("%q is not host:ip", s)
	}
	if ip == "host-gateway" {
		return "", fmt.Errorf("%q: host-gateway is the Docker Engine builder's; BuildKit needs the address", s)
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("%q: %q is not an IP address", s, ip)
	}
	return host + "=" + ip, nil
}

// ParseNetwork reads the network input as buildx does: default (or
// empty), none or host.
func ParseNetwork(s string) (string, error) {
	switch s {
	case "", "default":
		return "", nil
	case "none", "host":
		return s, nil
	}
	return "", fmt.Errorf("network mode %q is not supported by BuildKit (expected default, none or host)", s)
}

// ParseShmSize reads a size as docker's MemBytes does (binary units:
// 64m, 2g, or bytes).
func ParseShmSize(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (expected bytes or a number with a unit: 64m, 2g)", s)
	}
	return n, nil
}

// ParseUlimits reads name=soft[:hard] entries as docker's UlimitOpt does
// (the last of a name wins) and writes them as buildx does: name=soft:hard,
// sorted by name.
func ParseUlimits(entries []string) ([]string, error) {
	byName := map[string]string{}
	for _, e := range entries {
		u, err := units.ParseUlimit(e)
		if err != nil {
			return nil, fmt.Errorf("%q: %w (expected type=soft[:hard], e.g. nofile=1024:2048)", e, err)
		}
		byName[u.Name] = u.Name + "=" + strconv.FormatInt(u.Soft, 10) + ":" + strconv.FormatInt(u.Hard, 10)
	}
	var out []string
	for _, n := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, byName[n])
	}
	return out, nil
}

// ParseEntitlement checks an allow entry against BuildKit's entitlement
// names (device may carry =<name>[,alias=...]).
func ParseEntitlement(s string) error {
	name, _, _ := strings.Cut(s, "=")
	if !slices.Contains(entitlementNames, name) || (name != "device" && name != s) {
		return fmt.Errorf("unknown entitlement %q (expected %s)", s, strings.Join(entitlementNames, ", "))
	}
	return nil
}

// FrontendAttrs are the Dockerfile frontend's attributes for s, as buildx
// sets them.
func (s RunSettings) FrontendAttrs() map[string]string {
	kv := map[string]string{}
	if len(s.AddHosts) > 0 {
		kv["add-hosts"] = strings.Join(s.AddHosts, ",")
	}
	if s.Network != "" {
		kv["force-network-mode"] = s.Network
	}
	if s.ShmSize > 0 {
		kv["shm-size"] = strconv.FormatInt(s.ShmSize, 10)
	}
	if len(s.Ulimits) > 0 {
		kv["ulimit"] = strings.Join(s.Ulimits, ",")
	}
	if s.CgroupParent != "" {
		kv["cgroup-parent"] = s.CgroupParent
	}
	if len(s.NoCacheFilters) > 0 {
		kv["no-cache"] = strings.Join(s.NoCacheFilters, ",")
	}
	return kv
}

// String says what s changes of the RUN steps, for the plan; "" for
// nothing.
func (s RunSettings) String() string {
	var parts []string
	add := func(k string, v []string) {
		if len(v) > 0 {
			parts = append(parts, k+" "+strings.Join(v, ","))
		}
	}
	if s.Network != "" {
		parts = append(parts, "network "+s.Network)
	}
	add("add-hosts", s.AddHosts)
	if s.ShmSize > 0 {
		parts = append(parts, "shm-size "+units.BytesSize(float64(s.ShmSize)))
	}
	add("ulimit", s.Ulimits)
	if s.CgroupParent != "" {
		parts = append(parts, "cgroup-parent "+s.CgroupParent)
	}
	add("no-cache-filters", s.NoCacheFilters)
	add("entitlements", s.Entitlements)
	return strings.Join(parts, "; ")
}
