package config

import (
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

// pendingInputs are build-push-action inputs not built yet (issue 19):
// an unknown input's warning is what a user gets today.
var pendingInputs = map[string]string{
	"attests": "issue 19", "call": "issue 19", "load": "issue 19", "outputs": "issue 19",
}

// Every build-push-action input is a slipway input read the way the
// action reads it, or refused with a reason, or (until issue 19 is done)
// listed as pending.
func TestBuildPushActionInputs(t *testing.T) {
	ins := map[string]Input{}
	for _, in := range Inputs() {
		ins[in.Name] = in
	}
	for _, b := range buildPushActionInputs {
		in, ok := ins[b.name]
		switch {
		case refusedInputs[b.name] != "" || pendingInputs[b.name] != "":
			if ok {
				t.Errorf("%s is an input and also listed as refused or pending", b.name)
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
