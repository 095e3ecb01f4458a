package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/sign"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// promoteEnv is the environment of a slipway promote with the key, the
// fixture DB and gate severity.
func promoteEnv(t *testing.T, e *testenv.Env, key, pw, db, sev string) map[string]string {
	return buildEnv(t, e, map[string]string{
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": db, "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": sev,
		"SLIPWAY_COSIGN_KEY": key, "COSIGN_PASSWORD": pw, "SLIPWAY_TLOG_UPLOAD": "false",
	})
}

// promoted runs slipway promote and decodes its result (on failure too).
func promoted(t *testing.T, env map[string]string, args ...string) (*pipeline.Result, result) {
	t.Helper()
	r := slipway(t, t.TempDir(), env, append([]string{"promote", "--output", "json"}, args...)...)
	var res pipeline.Result
	if r.code != 2 {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("decoding the promote result (exit %d): %v\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
		}
	}
	return &res, r
}

func mustTag(t *testing.T, ref string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// mustDesc reads the descriptor of ref (repository@digest).
func mustDesc(t *testing.T, ref string) *remote.Descriptor {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(d)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// absent says repo holds no manifest of digest and no tag.
func absent(t *testing.T, repo, digest string) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(r.Digest(digest)); err == nil {
		t.Errorf("%s holds %s: something was copied", repo, digest)
	}
	if tags := testenv.RegistryTags(t, repo); len(tags) > 0 {
		t.Errorf("%s has tags %v: a tag moved", repo, tags)
	}
}

// slipway promote on the real registries: a signed, attested two-platform
// image (signatures in both formats) moves to a second registry and to a
// second repository of the same one, verified there by the cosign CLI,
// its blobs mounted (never uploaded) inside the registry; its policy is
// judged on its signed report, or on a fresh scan when the report is too
// old. An unsigned image, one signed by another key, and one whose
// report fails the gate are refused with nothing copied and no tag.
func TestPromote(t *testing.T) {
	e := testenv.Get(t)
	regB := testenv.StartRegistry(t)
	db := scanCache(t)
	const pw = "promote-password"
	priv, pub := keyPair(t, t.TempDir(), pw)
	_, otherPub := keyPair(t, t.TempDir(), pw)
	src := e.UniqueRepo(t, "promote-src")
	dir := testenv.GitProject(t, debianFiles)
	publish := func(repo string, more map[string]string) string {
		env := buildEnv(t, e, map[string]string{
			"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
			"SLIPWAY_PLATFORMS": "linux/amd64,linux/arm64", "SLIPWAY_TAGS": "type=raw,value=rc", "SLIPWAY_FLAVOR": "latest=false",
			"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": db, "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true", "SLIPWAY_SEVERITY": "CRITICAL",
			"SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": pw, "SLIPWAY_TLOG_UPLOAD": "false",
		})
		for k, v := range more {
			env[k] = v
		}
		res, _ := runResult(t, dir, env)
		return res.Build.DigestStr()
	}
	digest := publish(src, nil)
	source := src + "@" + digest

	// Promoted with the public key to another registry and to another
	// repository of this one, tagged v1 and stable in both.
	prod, mirror := src+"-prod", regB+"/acme/promoted"
	mark := e.Mark(t)
	res, r := promoted(t, promoteEnv(t, e, pub, "", db, "CRITICAL"), source, "--to", prod, "--to", mirror, "--tags", "v1", "--tags", "stable")
	if r.code != 0 {
		t.Fatalf("slipway promote: exit %d\n%s", r.code, r.stderr)
	}
	if got := doneStages(res); got != "source verify-source scan gate copy tag tag report" {
		t.Errorf("steps = %s", got)
	}
	if res.Scan == nil || res.Scan.Source != pipeline.FromAttestations || !res.Scan.Passed || len(res.Scan.Platforms) != 2 {
		t.Errorf("scan = %s, want the signed report of both platforms judged, passing at CRITICAL", jsonOf(res.Scan))
	}
	if res.Build.DigestStr() != digest || len(res.Build.Platforms) != 2 {
		t.Errorf("source = %s, want %s and its two platforms", jsonOf(res.Build), digest)
	}
	for _, repo := range []string{prod, mirror} {
		for _, tag := range []string{"v1", "stable"} {
			if got := testenv.TagDigest(t, repo+":"+tag); got != digest {
				t.Errorf("%s:%s = %s, want %s", repo, tag, got, digest)
			}
		}
		for _, pi := range res.Build.Platforms {
			// The verify command slipway gives, for each platform.
			args := strings.Fields(strings.Replace(res.Sign.VerifyCommand, src+"@"+digest, repo+"@"+pi.Digest.String(), 1))[1:]
			if out, err := testenv.Cosign(t, args...); err != nil {
				t.Errorf("cosign %s (%s): %v\n%s", strings.Join(args, " "), pi.Platform, err, out)
			}
		}
		// The verify commands slipway gives, with cosign v2 (the legacy
		// tags) and v3 (the Sigstore bundles, carried as referrers).
		readByBothCLIs(t, res.Sign, src, repo)
		if found := orasBundles(t, repo+"@"+digest); found[sign.SignPredicateType] != 1 || found[cyclonedx] == 0 || found[vuln] == 0 {
			t.Errorf("oras discover lists on %s the bundles %v, want the signature, the SBOMs and the vulnerability report", repo, found)
		}
	}
	// Inside the registry every blob is mounted from the source's
	// repository, none uploaded.
	mounts, sent := mountsAndUploads(t, e, mark, src, prod)
	if mounts == 0 || sent != 0 {
		t.Errorf("promoting into %s made %d mounts and %d blob uploads; want mounts only", prod, mounts, sent)
	}
	var images []string
	for _, im := range res.Images {
		images = append(images, im.Ref.String())
	}
	if want := []string{prod + "@" + digest, mirror + "@" + digest}; strings.Join(images, " ") != strings.Join(want, " ") {
		t.Errorf("images = %v, want %v", images, want)
	}

	// A report older than report-max-age: the source is scanned again in
	// its registry (with the private key's public half this time).
	fresh := src + "-fresh"
	env := promoteEnv(t, e, priv, pw, db, "CRITICAL")
	env["SLIPWAY_REPORT_MAX_AGE"] = "0s"
	res, r = promoted(t, env, source, "--to", fresh)
	if r.code != 0 || res.Scan == nil || res.Scan.Source != pipeline.FromRemoteScan {
		t.Errorf("report-max-age 0s: exit %d, scan %s; want a remote scan\n%s", r.code, jsonOf(res.Scan), r.stderr)
	}

	// A replication file: the versions in a semver range to one
	// repository, the rc tag to the other registry, two at a time; the
	// signature tags are never taken for images.
	for _, tag := range []string{"v1.2.0", "v1.3.0", "v2.0.0"} {
		if err := remote.Tag(mustTag(t, src+":"+tag), mustDesc(t, source), remote.WithContext(t.Context())); err != nil {
			t.Fatal(err)
		}
	}
	batchRepo, batchMirror := src+"-batch", regB+"/acme/batch"
	batch := filepath.Join(t.TempDir(), "replicate.yaml")
	if err := os.WriteFile(batch, fmt.Appendf(nil, `parallel: 2
images:
  - source: %s
    to: [%s]
    tags: {semver: ">=1.0.0 <2.0.0", deny: ["v1.3.*"]}
  - source: %s
    to: [%s]
    tags: {allow: [rc]}
`, src, batchRepo, src, batchMirror), 0o644); err != nil {
		t.Fatal(err)
	}
	r = slipway(t, t.TempDir(), promoteEnv(t, e, pub, "", db, "CRITICAL"), "promote", "--batch", batch)
	if r.code != 0 {
		t.Fatalf("slipway promote --batch: exit %d\n%s", r.code, r.stderr)
	}
	if want := batchRepo + "@" + digest + "\n" + batchMirror + "@" + digest + "\n"; r.stdout != want {
		t.Errorf("promote --batch printed:\n%s\nwant:\n%s", r.stdout, want)
	}
	for repo, want := range map[string][]string{batchRepo: {"v1.2.0"}, batchMirror: {"rc"}} {
		var tags []string
		for _, tag := range testenv.RegistryTags(t, repo) {
			if !strings.HasPrefix(tag, "sha256-") {
				tags = append(tags, tag)
			}
		}
		if !slices.Equal(tags, want) {
			t.Errorf("%s has the tags %v, want %v (and the signature tags)", repo, tags, want)
		}
		if out, err := testenv.Cosign(t, strings.Fields(strings.Replace(res.Sign.VerifyCommand, src+"@", repo+"@", 1))[1:]...); err != nil {
			t.Errorf("cosign verify in %s: %v\n%s", repo, err, out)
		}
	}

	// Refused, nothing copied, no tag: the signed report fails the gate
	// at HIGH; another key; no signature at all.
	for _, c := range []struct {
		name, key, source, stage string
		more                     map[string]string
	}{
		{"failing", pub, source, "gate", map[string]string{"SLIPWAY_SEVERITY": "HIGH"}},
		{"other-key", otherPub, source, "verify-source", nil},
		{"unsigned", pub, "", "verify-source", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			from := c.source
			if from == "" {
				unsigned := e.UniqueRepo(t, "promote-unsigned")
				from = unsigned + "@" + publish(unsigned, map[string]string{"SLIPWAY_SIGN": "false"})
			}
			to := e.UniqueRepo(t, "promote-refused")
			env := promoteEnv(t, e, c.key, "", db, "CRITICAL")
			for k, v := range c.more {
				env[k] = v
			}
			res, r := promoted(t, env, from, "--to", to, "--tags", "v1")
			if r.code != 1 || res.Failed == nil || res.Failed.Stage != pipeline.Stage(c.stage) {
				t.Fatalf("exit %d, failed %+v; want 1 at %s\n%s", r.code, res.Failed, c.stage, r.stderr)
			}
			_, d, _ := strings.Cut(from, "@")
			absent(t, to, d)
		})
	}

	// Bad input: exit 2, one line naming the input.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("images:\n  - source: "+src+"\n    to: ["+src+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for args, input := range map[string]string{
		"--to " + prod:           "source",
		src + ":rc --to " + prod: "source",
		source + " --to " + src:  "images",
		source:                   "images",
	} {
		r := slipway(t, t.TempDir(), promoteEnv(t, e, pub, "", db, "CRITICAL"), append([]string{"promote"}, strings.Fields(args)...)...)
		if r.code != 2 || !strings.Contains(lastLine(r.stderr), input) {
			t.Errorf("promote %s: exit %d, want 2 naming %s:\n%s", args, r.code, input, r.stderr)
		}
	}
}
