package attrs

import (
	"maps"
	"strings"
	"testing"
)

// The RUN-step inputs parse as buildx parses them and become the
// Dockerfile frontend's attributes buildx sets.
func TestRunSettings(t *testing.T) {
	for in, want := range map[string]string{
		"ci.test:10.1.2.3": "ci.test=10.1.2.3", "ci.test=10.1.2.3": "ci.test=10.1.2.3", "v6.test=[::1]": "v6.test=::1",
	} {
		if got, err := ParseAddHost(in); err != nil || got != want {
			t.Errorf("ParseAddHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"nohost", "ci.test:nope", "gw:host-gateway", ":1.2.3.4"} {
		if _, err := ParseAddHost(bad); err == nil {
			t.Errorf("ParseAddHost(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"": "", "default": "", "none": "none", "host": "host"} {
		if got, err := ParseNetwork(in); err != nil || got != want {
			t.Errorf("ParseNetwork(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseNetwork("bridge"); err == nil || !strings.Contains(err.Error(), "not supported by BuildKit") {
		t.Errorf("ParseNetwork(bridge): %v", err)
	}
	for in, want := range map[string]int64{"64m": 64 << 20, "2g": 2 << 30, "1048576": 1 << 20, "512kb": 512 << 10} {
		if got, err := ParseShmSize(in); err != nil || got != want {
			t.Errorf("ParseShmSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "0", "-1m"} {
		if _, err := ParseShmSize(bad); err == nil {
			t.Errorf("ParseShmSize(%q) accepted", bad)
		}
	}
	u, err := ParseUlimits([]string{"nproc=512", "nofile=1024:2048", "nproc=256:512"})
	if err != nil || strings.Join(u, ",") != "nofile=1024:2048,nproc=256:512" {
		t.Errorf("ParseUlimits = %v, %v", u, err)
	}
	if _, err := ParseUlimits([]string{"files=12"}); err == nil {
		t.Error("ParseUlimits(files=12) accepted")
	}
	for _, ok := range []string{"network.host", "security.insecure", "device", "device=/dev/kvm"} {
		if err := ParseEntitlement(ok); err != nil {
			t.Errorf("ParseEntitlement(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"root", "network.host=1", "network"} {
		if err := ParseEntitlement(bad); err == nil {
			t.Errorf("ParseEntitlement(%q) accepted", bad)
		}
	}
	s := RunSettings{
		AddHosts: []string{"a=1.2.3.4", "b=::1"}, Network: "none", ShmSize: 128 << 20,
		Ulimits: []string{"nofile=1024:2048"}, CgroupParent: "ci", NoCacheFilters: []string{"deps", "final"},
	}
	want := map[string]string{
		"add-hosts": "a=1.2.3.4,b=::1", "force-network-mode": "none", "shm-size": "134217728",
		"ulimit": "nofile=1024:2048", "cgroup-parent": "ci", "no-cache": "deps,final",
	}
	if got := s.FrontendAttrs(); !maps.Equal(got, want) {
		t.Errorf("FrontendAttrs = %v, want %v", got, want)
	}
	if len((RunSettings{}).FrontendAttrs()) != 0 || (RunSettings{}).String() != "" {
		t.Error("no setting gives attributes")
	}
}
