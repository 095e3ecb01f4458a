package config

import (
	"strings"
	"testing"
)

// buildPushActionInputs are docker/build-push-action v7.3.0's inputs
// (action.yml at 53b7df96c91f, the commit the v7 tag names), in its
// order, each with how its context.ts reads it: "comma" (getInputList:
// newlines and commas), "lines" (getInputList with ignoreComma) or ""
// (a scalar).
var buildPushActionInputs = []struct{ name, list string }{
	{"add-hosts", "comma"}, {"allow", "comma"}, {"annotations", "lines"}, {"attests", "lines"},
	{"build-args", "lines"}, {"build-contexts", "lines"}, {"builder", ""}, {"cache-from", "lines"},
	{"cache-to", "lines"}, {"call", ""}, {"cgroup-parent", ""}, {"context", ""}, {"file", ""},
	{"labels", "lines"}, {"load", ""}, {"network", ""}, {"no-cache", ""}, {"no-cache-filters", "comma"},
	{"outputs", "lines"}, {"platforms", "comma"}, {"provenance", ""}, {"pull", ""}, {"push", ""},
	{"sbom", ""}, {"secrets", "lines"}, {"secret-envs", "comma"}, {"secret-files", "lines"},
	{"shm-size", ""}, {"ssh", "comma"}, {"tags", "comma"}, {"target", ""}, {"ulimit", "lines"},
	{"github-token", ""},
}

// refusedInputs are build-push-action inputs slipway's model rules out,
// with the reason an input error gives.
var refusedInputs = map[string]string{}

// Every build-push-action input is a slipway input read the way the
// action reads it, or refused with a reason.
func TestBuildPushActionInputs(t *testing.T) {
	ins := map[string]Input{}
	for _, in := range Inputs() {
		ins[in.Name] = in
	}
	for _, b := range buildPushActionInputs {
		in, ok := ins[b.name]
		switch {
		case refusedInputs[b.name] != "":
			if ok {
				t.Errorf("%s is an input and also listed as refused", b.name)
			}
			continue
		case !ok:
			t.Errorf("build-push-action's %s is neither an input nor refused with a reason", b.name)
			continue
		case b.name == "tags":
			// metadata-action's tag rules (one per line), as the README says:
			// slipway computes the tags build-push-action is given.
			continue
		}
		got := ""
		if in.Kind == KindList {
			got = "comma"
			if in.List.IgnoreComma {
				got = "lines"
			}
		}
		if got != b.list {
			t.Errorf("%s is read as %q, build-push-action reads it as %q", b.name, got, b.list)
		}
	}
}

// attests merges with provenance and sbom as build-push-action merges
// them: its inputs first, buildx keeping the first entry of a type.
func TestAttestations(t *testing.T) {
	for _, tc := range []struct {
		name             string
		provenance, sbom string
		attests          []string
		wantP, wantS     string
		err              string
	}{
		{name: "defaults", provenance: "mode=min", sbom: "false", wantP: "mode=min", wantS: "false"},
		{name: "attests replace the defaults", provenance: "mode=min", sbom: "false",
			attests: []string{"type=provenance,mode=max,builder-id=https://ci.example/run/1", "type=sbom"},
			wantP:   "mode=max,builder-id=https://ci.example/run/1", wantS: "true"},
		{name: "a set input wins", provenance: "mode=max", sbom: "generator=example.com/gen:1",
			attests: []string{"type=provenance,mode=min", "type=sbom,disabled=true"},
			wantP:   "mode=max", wantS: "generator=example.com/gen:1"},
		{name: "disabled", provenance: "mode=min", sbom: "false", attests: []string{"type=provenance,disabled=true"},
			wantP: "false", wantS: "false"},
		{name: "the first of a type", provenance: "mode=min", sbom: "false",
			attests: []string{"type=sbom,scan-context=true", "type=sbom,generator=x/y:1"},
			wantP:   "mode=min", wantS: "scan-context=true"},
		{name: "unknown type", provenance: "mode=min", sbom: "false", attests: []string{"type=vex"}, err: `input "attests": "type=vex": type "vex" is not an attestation BuildKit makes`},
		{name: "unknown key", provenance: "mode=min", sbom: "false", attests: []string{"type=sbom,mode=max"}, err: `input "attests": "type=sbom,mode=max": mode is not an attribute of a sbom attestation`},
		{name: "bad mode", provenance: "mode=min", sbom: "false", attests: []string{"type=provenance,mode=full"}, err: `mode "full" is not min or max`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Provenance: tc.provenance, SBOM: tc.sbom, Attests: tc.attests}
			p, s, err := c.Attestations()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || p != tc.wantP || s != tc.wantS {
				t.Fatalf("got (%q, %q, %v), want (%q, %q)", p, s, err, tc.wantP, tc.wantS)
			}
		})
	}
}
