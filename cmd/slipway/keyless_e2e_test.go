package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// startKeyless starts a real Fulcio; it returns it, an OIDC token of
// its issuer for email, and the file of its trusted root.
func startKeyless(t *testing.T, email string) (f *testenv.Fulcio, token, trustedRoot string) {
	t.Helper()
	f = testenv.StartFulcio(t)
	token = f.Issuer.Token(t, map[string]any{"sub": "release-bot", "email": email, "email_verified": true})
	trustedRoot = filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(trustedRoot, f.TrustedRoot(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, token, trustedRoot
}

// Keyless, for real: a real Fulcio (v1.8.4, ephemeral CA, no CT log)
// issues the certificate for an OIDC token of a test issuer it trusts;
// slipway signs with it, verifies against a trusted_root.json of that
// Fulcio's CA before tagging, and tags. The real cosign CLI verifies the
// signature with the certificate's identity and that trusted root, and
// rejects another identity or issuer. No Rekor, no CT log: tlog upload is
// off and the trusted root has no CT log, so no SCT is required.
func TestKeylessSignWithFulcio(t *testing.T) {
	e := testenv.Get(t)
	const email = "release-bot@example.com"
	f, token, trusted := startKeyless(t, email)

	dir := testenv.GitProject(t, signedApp)
	repo := e.UniqueRepo(t, "keyless")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SIGN": "true", "SIGSTORE_ID_TOKEN": token, "SLIPWAY_FULCIO_URL": f.URL,
		"SLIPWAY_TLOG_UPLOAD": "false", "SLIPWAY_TRUSTED_ROOT": trusted,
	})
	res, r := runResult(t, dir, env)
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Error("the output shows the OIDC token")
	}
	digest := res.Build.DigestStr()
	if res.Sign == nil || res.Sign.Mode != "keyless" || !res.Sign.Verified || len(res.Sign.Signed) == 0 || res.Sign.Signed[0].String() != digest {
		t.Fatalf("sign result = %+v, want %s signed keyless and verified", res.Sign, digest)
	}
	if want := email + " (issuer " + f.Issuer.URL + ")"; res.Sign.Identity != want {
		t.Errorf("identity = %q, want %q", res.Sign.Identity, want)
	}
	if res.Sign.TlogIndex != -1 {
		t.Errorf("tlog index = %d, want -1 (no upload)", res.Sign.TlogIndex)
	}
	if got := doneStages(res); !strings.Contains(got, "sign verify tag") {
		t.Errorf("steps = %s, want sign, verify, then tag", got)
	}
	if got := testenv.TagDigest(t, repo+":v1"); got != digest {
		t.Errorf("%s:v1 = %s, want %s", repo, got, digest)
	}
	wantCmd := "cosign verify --certificate-identity " + email + " --certificate-oidc-issuer " + f.Issuer.URL + " --insecure-ignore-tlog=true --trusted-root " + trusted + " " + repo + "@" + digest
	if res.Sign.VerifyCommand != wantCmd {
		t.Errorf("verify command = %q, want %q", res.Sign.VerifyCommand, wantCmd)
	}

	verify := func(identity, issuer, ref string) (string, error) {
		return testenv.Cosign(t, "verify", "--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
			"--trusted-root", trusted, "--insecure-ignore-tlog=true", "--insecure-ignore-sct=true", ref)
	}
	for _, h := range res.Sign.Signed {
		d := h.String()
		ref := repo + "@" + d
		out, err := verify(email, f.Issuer.URL, ref)
		if err != nil {
			t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
		} else if !strings.Contains(out, `"docker-manifest-digest":"`+d+`"`) {
			t.Errorf("cosign verify printed no claim for %s:\n%s", d, out)
		}
		t.Logf("cosign verify %s:\n%s", ref, out)
	}
	ref := repo + "@" + digest
	if out, err := verify("someone-else@example.com", f.Issuer.URL, ref); err == nil {
		t.Errorf("cosign verify with another identity passed:\n%s", out)
	} else if !strings.Contains(out, "none of the expected identities matched") && !strings.Contains(out, `expected SAN value "someone-else@example.com"`) {
		// (The legacy and the bundle paths word it differently.)
		t.Errorf("cosign verify with another identity failed for another reason:\n%s", out)
	}
	if out, err := verify(email, "https://token.actions.githubusercontent.com", ref); err == nil {
		t.Errorf("cosign verify with another issuer passed:\n%s", out)
	}
}

// A keyless run that real Fulcio refuses (a token for another audience)
// fails at the sign step; one whose signature does not verify against
// the given trusted root (another Fulcio's CA) fails at the verify step,
// before tagging. Neither leaves a tag.
func TestKeylessRefusedOrUnverifiedLeavesNoTag(t *testing.T) {
	e := testenv.Get(t)
	f := testenv.StartFulcio(t)
	other := testenv.StartFulcio(t)
	dir := testenv.GitProject(t, signedApp)
	const email = "release-bot@example.com"
	good := f.Issuer.Token(t, map[string]any{"email": email, "email_verified": true})
	ownRoot, otherRoot := filepath.Join(t.TempDir(), "own.json"), filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(ownRoot, f.TrustedRoot(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherRoot, other.TrustedRoot(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token, trustedRoot, step, says string
	}{
		{"wrong audience", f.Issuer.Token(t, map[string]any{"email": email, "email_verified": true, "aud": "not-sigstore"}), ownRoot, "sign", "getting a certificate from " + f.URL},
		{"another CA", good, otherRoot, "verify", "verifying the signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := e.UniqueRepo(t, "keyless-refused")
			env := buildEnv(t, e, map[string]string{
				"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
				"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
				"SLIPWAY_SIGN": "true", "SIGSTORE_ID_TOKEN": c.token, "SLIPWAY_FULCIO_URL": f.URL,
				"SLIPWAY_TLOG_UPLOAD": "false", "SLIPWAY_TRUSTED_ROOT": c.trustedRoot,
			})
			r := slipway(t, dir, env, "run")
			if last := lastLine(r.stderr); r.code != 1 || !strings.HasPrefix(last, "slipway: "+c.step+":") || !strings.Contains(r.stderr, c.says) {
				t.Errorf("exit %d, want 1 at the %s step saying %q\n%s", r.code, c.step, c.says, r.stderr)
			}
			if strings.Contains(r.stderr, c.token) {
				t.Error("the output shows the OIDC token")
			}
			// A failed verify leaves the signature it made
			// (sha256-<hex>.sig), never an image tag.
			for _, tag := range testenv.RegistryTags(t, repo) {
				if c.step == "sign" || !strings.HasPrefix(tag, "sha256-") {
					t.Errorf("%s has tag %q after a failed keyless run", repo, tag)
				}
			}
		})
	}
}

// Keyless with the log on, as cosign v3 signs today: real Fulcio, a real
// Rekor v2 and a real timestamp authority (timestamp-server-url), the
// Sigstore bundle format. The run signs, logs, timestamps, verifies and
// tags; the verify command it gives works with cosign v3 and v2.6.5,
// the log checked (no --insecure-ignore-tlog).
func TestKeylessSignLoggedAndTimestamped(t *testing.T) {
	e := testenv.Get(t)
	f := testenv.StartFulcio(t)
	rk := testenv.StartRekor(t)
	tsa := testenv.StartTimestampAuthority(t)
	trusted := testenv.KeylessTrustedRoot(t, f, rk, tsa)
	const email = "release-bot@example.com"
	token := f.Issuer.Token(t, map[string]any{"email": email, "email_verified": true})

	dir := testenv.GitProject(t, signedApp)
	repo := e.UniqueRepo(t, "keyless-logged")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=v1", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SIGN": "true", "SIGSTORE_ID_TOKEN": token, "SLIPWAY_FULCIO_URL": f.URL,
		"SLIPWAY_TLOG_UPLOAD": "true", "SLIPWAY_REKOR_URL": rk.URL, "SLIPWAY_REKOR_VERSION": "2",
		"SLIPWAY_TIMESTAMP_SERVER_URL": tsa.URL, "SLIPWAY_SIGNATURE_FORMAT": "bundle", "SLIPWAY_TRUSTED_ROOT": trusted,
	})
	res, r := runResult(t, dir, env)
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Error("the output shows the OIDC token")
	}
	digest := res.Build.DigestStr()
	if res.Sign == nil || res.Sign.Mode != "keyless" || !res.Sign.Verified || res.Sign.TlogIndex < 0 {
		t.Fatalf("sign result = %+v, want keyless, logged and verified", res.Sign)
	}
	if got := testenv.TagDigest(t, repo+":v1"); got != digest {
		t.Errorf("%s:v1 = %s, want %s", repo, got, digest)
	}
	ref := repo + "@" + digest
	wantCmd := "cosign verify --certificate-identity " + email + " --certificate-oidc-issuer " + f.Issuer.URL + " --use-signed-timestamps --trusted-root " + trusted + " " + ref
	if res.Sign.VerifyCommand != wantCmd {
		t.Errorf("verify command = %q, want %q", res.Sign.VerifyCommand, wantCmd)
	}
	// The given command, with what the test's servers need: plain HTTP,
	// and no SCT (this Fulcio has no CT log).
	args := append(strings.Fields(strings.TrimPrefix(res.Sign.VerifyCommand, "cosign "))[:len(strings.Fields(wantCmd))-2],
		"--insecure-ignore-sct=true", "--allow-http-registry", "--allow-insecure-registry", ref)
	for _, c := range []struct {
		name string
		run  func(testing.TB, ...string) (string, error)
	}{{"cosign v3", testenv.Cosign3}, {"cosign v2.6.5", testenv.Cosign}} {
		if out, err := c.run(t, args...); err != nil {
			t.Errorf("%s %s: %v\n%s", c.name, strings.Join(args, " "), err, out)
		}
	}
}

// slipway promote of a keyless-signed image: the source's signature is
// verified by the certificate identity and issuer given, against the
// trusted root of the real Fulcio that issued it, then the image moves
// and the cosign CLI verifies it at the destination by that identity.
// Another identity is refused with nothing copied and no tag.
func TestPromoteKeyless(t *testing.T) {
	e := testenv.Get(t)
	const email = "release-bot@example.com"
	f, token, trusted := startKeyless(t, email)
	dir := testenv.GitProject(t, signedApp)
	src := e.UniqueRepo(t, "keyless-promote")
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": src, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/amd64", "SLIPWAY_TAGS": "type=raw,value=rc", "SLIPWAY_FLAVOR": "latest=false",
		"SLIPWAY_SIGN": "true", "SIGSTORE_ID_TOKEN": token, "SLIPWAY_FULCIO_URL": f.URL,
		"SLIPWAY_TLOG_UPLOAD": "false", "SLIPWAY_TRUSTED_ROOT": trusted,
	}))
	digest := res.Build.DigestStr()
	source := src + "@" + digest
	promoteAs := func(identity string) map[string]string {
		return buildEnv(t, e, map[string]string{
			"SLIPWAY_CERTIFICATE_IDENTITY": identity, "SLIPWAY_CERTIFICATE_OIDC_ISSUER": f.Issuer.URL,
			"SLIPWAY_TRUSTED_ROOT": trusted, "SLIPWAY_TLOG_UPLOAD": "false",
		})
	}

	refused := src + "-refused"
	res, r := promoted(t, promoteAs("someone-else@example.com"), source, "--to", refused, "--tags", "v1")
	if r.code != 1 || res.Failed == nil || res.Failed.Stage != pipeline.StageVerifySource {
		t.Errorf("promote by another identity: exit %d, failed %+v; want 1 at verify-source\n%s", r.code, res.Failed, r.stderr)
	}
	absent(t, refused, digest)

	prod := src + "-prod"
	res, r = promoted(t, promoteAs(email), source, "--to", prod, "--tags", "v1")
	if r.code != 0 {
		t.Fatalf("slipway promote (keyless): exit %d\n%s", r.code, r.stderr)
	}
	if got := testenv.TagDigest(t, prod+":v1"); got != digest {
		t.Errorf("%s:v1 = %s, want %s", prod, got, digest)
	}
	if got := doneStages(res); got != "source verify-source copy tag report" {
		t.Errorf("steps = %s, want the source verified, copied, tagged", got)
	}
	out, err := testenv.Cosign(t, "verify", "--certificate-identity", email, "--certificate-oidc-issuer", f.Issuer.URL,
		"--trusted-root", trusted, "--insecure-ignore-tlog=true", "--insecure-ignore-sct=true", prod+"@"+digest)
	if err != nil {
		t.Errorf("cosign verify at the destination: %v\n%s", err, out)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Error("the output shows the OIDC token")
	}
}
