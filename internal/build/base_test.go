package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// The final stage's base image: through named stages, with ARG defaults
// before the first FROM and build args over them; the target's when one
// is given; none for scratch.
func TestFinalBase(t *testing.T) {
	for _, c := range []struct {
		name, dockerfile, target string
		args                     []pipeline.BuildArg
		want                     string
	}{
		{name: "plain", dockerfile: "FROM debian:bookworm\nRUN true\n", want: "debian:bookworm"},
		{name: "arg default", dockerfile: "ARG BASE=alpine:3.22\nFROM ${BASE}\n", want: "alpine:3.22"},
		{name: "build arg", dockerfile: "ARG BASE=alpine:3.22\nFROM ${BASE}\n", args: []pipeline.BuildArg{{Name: "BASE", Value: "r.example/base:1"}}, want: "r.example/base:1"},
		{name: "through stages", dockerfile: "FROM golang:1.26 AS build\nRUN go build\nFROM debian:bookworm-slim AS rt\nFROM rt\nCOPY --from=build /x /x\n", want: "debian:bookworm-slim"},
		{name: "target", dockerfile: "FROM golang:1.26 AS build\nFROM scratch\nCOPY --from=build /x /x\n", target: "build", want: "golang:1.26"},
		{name: "scratch", dockerfile: "FROM golang:1.26 AS build\nFROM scratch\nCOPY --from=build /x /x\n", want: ""},
		{name: "scratch through a stage", dockerfile: "FROM scratch AS base\nFROM base\n", want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(c.dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := finalBase(&pipeline.BuildPlan{Context: dir, File: filepath.Join(dir, "Dockerfile"), Target: c.target, BuildArgs: c.args})
			if err != nil || got != c.want {
				t.Errorf("finalBase = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// A FROM that a named build context replaces: an image context is the
// base; a directory context is no image.
func TestSameImage(t *testing.T) {
	if !sameImage("debian:bookworm", "docker.io/library/debian:bookworm") || sameImage("debian:bookworm", "debian:trixie") {
		t.Error("sameImage does not normalize references as BuildKit matches named contexts")
	}
}
