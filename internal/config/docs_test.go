package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's inputs table and action.yml's inputs")

// The README's inputs table is generated from Config; this keeps it so.
func TestReadmeInputsTable(t *testing.T) {
	const path = "../../README.md"
	const begin, end = "<!-- inputs:begin -->\n", "<!-- inputs:end -->"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", path, begin, end)
	}
	want := MarkdownTable()
	if got := s[i+len(begin) : j]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README inputs table is stale: run go test ./internal/config -run TestReadmeInputsTable -update")
	}
}
