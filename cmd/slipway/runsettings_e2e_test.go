package main

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// runStepsDockerfile records, in its first stage, what its RUN step sees
// (the hosts file, /dev/shm's size, the open-files limit, the network
// interfaces) and a random stamp; the second stage a stamp of its own.
const runStepsDockerfile = `ARG BASE
FROM ${BASE} AS deps
RUN cat /proc/sys/kernel/random/uuid > /deps.txt && \
    (grep ci.example.test /etc/hosts || true) > /hosts.txt && \
    df -k /dev/shm | tail -n 1 | awk '{print $2}' > /shm.txt && \
    ulimit -n > /nofile.txt && \
    ls /sys/class/net | tr '\n' ' ' > /net.txt
FROM deps AS final
RUN cat /proc/sys/kernel/random/uuid > /final.txt
`

// build-push-action's add-hosts, shm-size, ulimit, network,
// no-cache-filters and allow on the real BuildKit, as buildx passes them:
// a RUN step sees the added host, the shm size and the ulimit, and with
// network none only the loopback interface (with the default network,
// more); no-cache-filters rebuilds only the stage it names; network host
// on a builder that does not permit network.host fails naming the
// entitlement and how to permit it, and builds on one that does; bad
// values are input errors naming the input.
func TestBuildPushActionRunInputs(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": runStepsDockerfile})
	settings := map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_PUSH": "false", "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_ADD_HOSTS": "ci.example.test:10.1.2.3", "SLIPWAY_SHM_SIZE": "128m",
		"SLIPWAY_ULIMIT": "nofile=1234:2048", "SLIPWAY_NETWORK": "none",
	}
	build := func(more map[string]string) map[string]string {
		t.Helper()
		env := buildEnv(t, e, settings)
		for k, v := range more {
			env[k] = v
		}
		res, r := runResult(t, dir, env)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var img v1.Image // the image, beside its provenance's manifest
		for k, im := range layoutImages(t, res.Build.LayoutDir, res.Build.DigestStr()) {
			if !strings.HasPrefix(k, "attestation:") {
				img = im
			}
		}
		if img == nil {
			t.Fatalf("no image in the layout of %s", res.Build.DigestStr())
		}
		facts := map[string]string{}
		for _, f := range []string{"deps", "final", "hosts", "shm", "nofile", "net"} {
			facts[f] = strings.TrimSpace(fileIn(t, img, "/"+f+".txt"))
		}
		return facts
	}
	first := build(nil)
	for k, want := range map[string]string{"shm": "131072", "nofile": "1234", "net": "lo"} {
		if first[k] != want {
			t.Errorf("the RUN step saw %s = %q, want %q", k, first[k], want)
		}
	}
	if !strings.Contains(first["hosts"], "10.1.2.3") {
		t.Errorf("the RUN step's /etc/hosts has no ci.example.test at 10.1.2.3: %q", first["hosts"])
	}

	// no-cache-filters: final is built again, deps comes from the cache.
	again := build(map[string]string{"SLIPWAY_NO_CACHE_FILTERS": "final"})
	if again["deps"] != first["deps"] || again["final"] == first["final"] {
		t.Errorf("no-cache-filters final: deps %s → %s (want the same), final %s → %s (want another)", first["deps"], again["deps"], first["final"], again["final"])
	}

	// The default network: more than the loopback interface.
	if net := build(map[string]string{"SLIPWAY_NETWORK": ""})["net"]; net == "lo" || !strings.Contains(net, "lo") {
		t.Errorf("with the default network the RUN step saw the interfaces %q", net)
	}

	// network host: refused by a builder that does not permit
	// network.host, built by one that does.
	env := buildEnv(t, e, settings)
	env["SLIPWAY_NETWORK"] = "host"
	r := slipway(t, dir, env, "run")
	if last := lastLine(r.stderr); r.code != 1 || !strings.Contains(last, "entitlement network.host") || !strings.Contains(last, "--allow-insecure-entitlement=network.host") {
		t.Errorf("network host on a builder without the entitlement: exit %d, want 1 naming it and how to permit it:\n%s", r.code, r.stderr)
	}
	permits := e.StartBuildkitdWith(t, testenv.BuildkitdOptions{Entitlements: []string{"network.host"}})
	if net := build(map[string]string{"SLIPWAY_NETWORK": "host", "SLIPWAY_ALLOW": "network.host", "BUILDKIT_HOST": permits.Addr})["net"]; net == "lo" {
		t.Errorf("with network host the RUN step saw only %q", net)
	}

	// Bad values: exit 2, one line naming the input.
	for input, kv := range map[string][2]string{
		"add-hosts":        {"SLIPWAY_ADD_HOSTS", "ci.example.test:not-an-ip"},
		"network":          {"SLIPWAY_NETWORK", "bridge"},
		"shm-size":         {"SLIPWAY_SHM_SIZE", "lots"},
		"ulimit":           {"SLIPWAY_ULIMIT", "files=12"},
		"allow":            {"SLIPWAY_ALLOW", "root"},
		"no-cache-filters": {"SLIPWAY_NO_CACHE", "true"},
	} {
		env := buildEnv(t, e, settings)
		env[kv[0]] = kv[1]
		if input == "no-cache-filters" {
			env["SLIPWAY_NO_CACHE_FILTERS"] = "final"
		}
		r := slipway(t, dir, env, "run")
		if r.code != 2 || !strings.Contains(lastLine(r.stderr), `input "`+input+`"`) {
			t.Errorf("%s=%s: exit %d, want 2 naming %s:\n%s", kv[0], kv[1], r.code, input, r.stderr)
		}
	}
}
