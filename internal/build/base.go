package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/slipway-ci/slipway/internal/meta"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
)

// The OCI annotations of an image's base image.
const (
	annotationBaseName   = "org.opencontainers.image.base.name"
	annotationBaseDigest = "org.opencontainers.image.base.digest"
)

// baseLookupTimeout bounds the lookup of the base image's digest.
const baseLookupTimeout = 20 * time.Second

// sameImage tells whether two image references name the same image, as
// BuildKit matches a named context to a FROM: as written, or normalized
// (debian:bookworm is docker.io/library/debian:bookworm).
func sameImage(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := name.ParseReference(a)
	rb, err2 := name.ParseReference(b)
	return err1 == nil && err2 == nil && ra.Name() == rb.Name()
}

// finalBase is the base image of the Dockerfile's final stage (the
// target, else the last stage), through the stages it names, with the
// build args and ARG defaults before the first FROM applied; "" when
// that is scratch, or when it cannot be told (a frontend of its own, an
// argument left unset).
func finalBase(b *pipeline.BuildPlan) (string, error) {
	file := b.File
	if file == "" {
		file = filepath.Join(b.Context, "Dockerfile")
	}
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return "", err
	}
	ast, err := parser.Parse(strings.NewReader(string(head)))
	if err != nil {
		return "", err
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return "", err
	}
	if len(stages) == 0 {
		return "", nil
	}
	given := map[string]string{}
	for _, a := range b.BuildArgs {
		if !a.FromEnv {
			given[a.Name] = a.Value
		}
	}
	var env []string
	for _, ma := range metaArgs {
		for _, kv := range ma.Args {
			if v, ok := given[kv.Key]; ok {
				env = append(env, kv.Key+"="+v)
			} else if kv.Value != nil {
				env = append(env, kv.Key+"="+*kv.Value)
			}
		}
	}
	lex := shell.NewLex(ast.EscapeToken)
	i := len(stages) - 1
	if b.Target != "" {
		i = -1
		for j, st := range stages {
			if strings.EqualFold(st.Name, b.Target) {
				i = j
			}
		}
		if i < 0 {
			return "", fmt.Errorf("no stage %q", b.Target)
		}
	}
	for range len(stages) {
		base, _, err := lex.ProcessWord(stages[i].BaseName, shell.EnvsFromSlice(env))
		if err != nil {
			return "", err
		}
		if strings.EqualFold(base, "scratch") || base == "" {
			return "", nil
		}
		next := -1
		for j := range i {
			if strings.EqualFold(stages[j].Name, base) {
				next = j
			}
		}
		if next < 0 {
			return base, nil
		}
		i = next
	}
	return "", nil
}

// withBase is b with manifest annotations naming the final stage's base
// image and its digest (the digest its reference resolves to now, an
// index for a multi-platform base), as the OCI image spec defines them,
// so that a later run or `regctl image check-base` can tell when the base
// moved. b as it is when its annotations set them, the base is scratch,
// or cannot be read: a note on the progress output says why.
func (s *Stage) withBase(ctx context.Context, b *pipeline.BuildPlan) *pipeline.BuildPlan {
	for _, a := range b.Annotations {
		if a.Key == annotationBaseName || a.Key == annotationBaseDigest {
			return b
		}
	}
	note := func(format string, args ...any) {
		if s.Progress != nil {
			fmt.Fprintf(s.Progress, "slipway: no base image annotations: "+format+"\n", args...)
		}
	}
	base, err := finalBase(b)
	if err != nil {
		note("reading the final stage's FROM: %v", err)
		return b
	}
	if base == "" {
		return b
	}
	// A named build context of that name is what the build used: an
	// image (docker-image://) in its place, else no image at all.
	for _, e := range b.BuildContexts {
		k, v, _ := strings.Cut(string(e), "=")
		if !sameImage(k, base) {
			continue
		}
		img, ok := strings.CutPrefix(v, "docker-image://")
		if !ok {
			note("the final stage's FROM %s is the build context %q", base, k)
			return b
		}
		base = img
	}
	ref, err := name.ParseReference(base)
	if err != nil {
		note("%q: %v", base, err)
		return b
	}
	// Bounded: an unreachable registry costs the build this much at most.
	hctx, cancel := context.WithTimeout(ctx, baseLookupTimeout)
	defer cancel()
	desc, err := remote.Head(ref, registry.RemoteOptions(hctx, s.Keychain, nil)...)
	if err != nil {
		note("resolving %s: %v", ref, err)
		return b
	}
	out := *b
	out.Annotations = append(slices.Clone(b.Annotations),
		meta.Annotation{Level: "manifest", Key: annotationBaseName, Value: ref.Name()},
		meta.Annotation{Level: "manifest", Key: annotationBaseDigest, Value: desc.Digest.String()})
	return &out
}
