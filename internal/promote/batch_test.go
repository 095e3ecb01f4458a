package promote

import (
	"strings"
	"testing"
)

// A replication file's filters: allow and deny patterns, a semver range
// (a tag that is no version is then out); a bad file is an input error
// naming batch and the entry.
func TestBatchFilters(t *testing.T) {
	b, err := ReadBatch([]byte(`parallel: 3
images:
  - source: registry.test/team/app
    to: [prod.test/team/app]
    tags: {semver: ">=1.0.0 <2", deny: ["v1.3.*"]}
  - source: registry.test/team/app
    to: [mirror.test/team/app]
    tags: {allow: ["rc", "main-*"]}
  - source: registry.test/team/tool
    to: [mirror.test/team/tool]
`))
	if err != nil {
		t.Fatal(err)
	}
	if b.Parallel != 3 {
		t.Errorf("parallel %d", b.Parallel)
	}
	for i, c := range []map[string]bool{
		{"v1.2.0": true, "1.9.9": true, "v1.3.1": false, "v2.0.0": false, "rc": false, "latest": false},
		{"rc": true, "main-abc": true, "v1.2.0": false, "rcx": false},
		{"anything": true, "v9": true},
	} {
		for tag, want := range c {
			if got := b.Images[i].Tags.Selects(tag); got != want {
				t.Errorf("image %d selects %s: %v, want %v", i+1, tag, got, want)
			}
		}
	}
	for yml, want := range map[string]string{
		"images: []": "no images",
		"parallel: 40\nimages: [{source: r.test/a, to: [r.test/b]}]":          "parallel 40",
		"images: [{source: r.test/a}]":                                        "image 1 (r.test/a): no to",
		"images: [{source: r.test/a, to: [r.test/a]}]":                        "is the source",
		"images: [{source: r.test/a, to: [r.test/b], tags: {semver: '>>1'}}]": `semver ">>1"`,
		"images: [{source: r.test/a, to: [r.test/b], tags: {allow: ['[']}}]":  `tag pattern "["`,
		"images: [{source: 'R.test/A B', to: [r.test/b]}]":                    "source:",
		"images: [{source: r.test/a, to: [r.test/b], tags: {only: [v1]}}]":    "field only not found",
	} {
		_, err := ReadBatch([]byte(yml))
		if err == nil || !strings.HasPrefix(err.Error(), `input "batch"`) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an input error naming batch and %q", yml, err, want)
		}
	}
}
