package main

import (
	"os"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// Path 1 over tcp:// with mutual TLS: a second buildkitd that only talks
// to clients holding a certificate of its CA.
func TestBuilderTCPWithMTLS(t *testing.T) {
	e := testenv.Get(t)
	bk := e.StartBuildkitd(t, true)
	dir := testenv.GitProject(t, map[string]string{"Dockerfile": builderDockerfile})
	env := noBuilderEnv(t, e, dir, map[string]string{
		"BUILDKIT_HOST":      bk.Addr,
		"BUILDKIT_TLS_CA":    bk.CA,
		"BUILDKIT_TLS_CERT":  bk.ClientCert,
		"BUILDKIT_TLS_KEY":   bk.ClientKey,
		"SLIPWAY_IMAGES":     e.UniqueRepo(t, "mtls"),
		"SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
	})
	res, _ := runResult(t, dir, env)
	registryHas(t, env["SLIPWAY_IMAGES"], res.Build.DigestStr())

	// Without the client certificate the daemon refuses the connection.
	delete(env, "BUILDKIT_TLS_CERT")
	delete(env, "BUILDKIT_TLS_KEY")
	r := slipway(t, dir, env, "run")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "cannot reach BuildKit at "+bk.Addr) {
		log, _ := os.ReadFile(bk.Log)
		t.Fatalf("without a client certificate: exit %d, want 1 naming %s\n%s\nbuildkitd:\n%s", r.code, bk.Addr, r.stderr, log)
	}
}
