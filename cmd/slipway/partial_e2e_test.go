package main

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/partial"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/severity"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// A partial run (one platform's job of a matrix) builds its platform,
// pushes it by digest, scans it, and records it for slipway merge: no
// tag, no signature even with a key, no gate (a finding is the merge's
// to judge); the record, read back by the digest the run outputs, holds
// the scan and the SBOM; slipway.env names it by platform.
func TestPartialRunRecordsItsPlatform(t *testing.T) {
	e := testenv.Get(t)
	dir := testenv.GitProject(t, debianFiles)
	repo := e.UniqueRepo(t, "partial")
	priv, _ := keyPair(t, t.TempDir(), "pw")
	env := buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": "linux/arm64", "SLIPWAY_PARTIAL": "true", "SLIPWAY_TAGS": "type=raw,value=v1",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanCache(t), "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
		"SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "pw", "SLIPWAY_TLOG_UPLOAD": "false",
	})
	res, _ := runResult(t, dir, env)
	if got := doneStages(res); got != "build scan record report" {
		t.Errorf("steps %s, want build scan record report", got)
	}
	pr := res.Partial
	if pr == nil || pr.Platform != "linux/arm64" || len(res.Build.Platforms) != 1 || pr.Manifest != res.Build.Platforms[0].Digest {
		t.Fatalf("partial result %+v of build %+v", pr, res.Build)
	}
	if res.Sign != nil {
		t.Errorf("a partial run signed: %+v", res.Sign)
	}
	if tags := testenv.RegistryTags(t, repo); len(tags) != 0 {
		for _, tag := range tags {
			if !strings.HasPrefix(tag, "sha256-") { // the record's referrers tag
				t.Errorf("a partial run left tag %q", tag)
			}
		}
	}
	rec, layers, err := partial.Read(context.Background(), pr.Record, pr.Manifest, authn.DefaultKeychain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Scan == nil || rec.Scan.Counts[severity.Critical]+rec.Scan.Counts[severity.High] == 0 || rec.Image.DigestStr() != res.Build.DigestStr() {
		t.Errorf("the record's scan %+v, image %s", rec.Scan, rec.Image)
	}
	found := false
	for _, f := range rec.Scan.Findings {
		found = found || f.ID == "CVE-2099-0001"
	}
	if !found {
		t.Errorf("the record's findings lack CVE-2099-0001: %+v", rec.Scan.Findings)
	}
	sboms := 0
	for title, b := range layers {
		if strings.HasSuffix(title, ".cdx.json") && strings.Contains(string(b), `"bomFormat"`) {
			sboms++
		}
	}
	if sboms != 1 {
		t.Errorf("the record's report layers: %d SBOMs among %d", sboms, len(layers))
	}
	dotenv, err := os.ReadFile(filepath.Join(env["SLIPWAY_OUTPUT_DIR"], "slipway.env"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "SLIPWAY_RESULT_PARTIAL_LINUX_ARM64=" + pr.Line() + "\n"; !strings.Contains(string(dotenv), want) {
		t.Errorf("slipway.env lacks %q:\n%s", want, dotenv)
	}
}

// partialRun runs one platform's partial job of app into repo and
// returns its partial-result line.
func partialRun(t *testing.T, e *testenv.Env, app map[string]string, repo, platform, scanDB string) string {
	t.Helper()
	dir := testenv.GitProject(t, app)
	res, _ := runResult(t, dir, buildEnv(t, e, map[string]string{
		"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_BUILD_ARGS": "BASE=" + e.BaseImage,
		"SLIPWAY_PLATFORMS": platform, "SLIPWAY_PARTIAL": "true",
		"SLIPWAY_SCAN": "true", "SLIPWAY_SCAN_CACHE_DIR": scanDB, "SLIPWAY_SCAN_SKIP_DB_UPDATE": "true",
	}))
	if res.Partial == nil {
		t.Fatalf("the %s partial run left no partial result", platform)
	}
	return res.Partial.Line()
}

// Two partial runs, one per platform, then slipway merge: one index of
// both platforms (with each one's provenance), gated on the recorded
// scans, signed and attested once, tagged once, without a layer of the
// images read; a line naming another platform's manifest, and a
// platform whose recorded scan fails the gate, are refused with no tag.
func TestPartialRunsThenMerge(t *testing.T) {
	e := testenv.Get(t)
	db := scanCache(t)
	repo := e.UniqueRepo(t, "merged")
	amd := partialRun(t, e, signedApp, repo, "linux/amd64", db)
	arm := partialRun(t, e, signedApp, repo, "linux/arm64", db)
	priv, pub := keyPair(t, t.TempDir(), "pw")
	// The merge job's checkout: no Dockerfile, nothing to build.
	dir := testenv.GitProject(t, map[string]string{"README.md": "merge job\n"})
	mergeEnv := func(from, tag string) map[string]string {
		return buildEnv(t, e, map[string]string{
			"SLIPWAY_CONTEXT": dir, "SLIPWAY_IMAGES": repo, "SLIPWAY_FROM": from,
			"SLIPWAY_TAGS": "type=raw,value=" + tag, "SLIPWAY_FLAVOR": "latest=false",
			"SLIPWAY_SCAN": "true", "SLIPWAY_SEVERITY": "CRITICAL,HIGH",
			"SLIPWAY_COSIGN_KEY": priv, "COSIGN_PASSWORD": "pw", "SLIPWAY_TLOG_UPLOAD": "false", "SLIPWAY_SIGNATURE_FORMAT": "legacy",
		})
	}
	mark := e.Mark(t)
	env := mergeEnv(amd+"\n"+arm, "v1")
	r := slipway(t, dir, env, "merge", "--output", "json")
	if r.code != 0 {
		t.Fatalf("slipway merge: exit %d\n%s", r.code, r.stderr)
	}
	var res pipeline.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if got := doneStages(&res); got != "build scan gate sign verify tag report" {
		t.Errorf("steps %s", got)
	}
	b := res.Build
	if len(b.Platforms) != 2 || b.Platforms[0].Platform != "linux/amd64" || b.Platforms[1].Platform != "linux/arm64" ||
		b.Platforms[0].Digest.String() != strings.Fields(amd)[1] || b.Platforms[1].Digest.String() != strings.Fields(arm)[1] {
		t.Fatalf("merged platforms %+v, want the partial runs' manifests", b.Platforms)
	}
	if got := testenv.TagDigest(t, repo+":v1"); got != b.DigestStr() {
		t.Errorf("%s:v1 = %s, want the index %s", repo, got, b.DigestStr())
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(registryManifest(t, repo, b.DigestStr()), &idx); err != nil {
		t.Fatal(err)
	}
	attestations := 0
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			attestations++
		}
	}
	if len(idx.Manifests) != 4 || attestations != 2 {
		t.Errorf("the index lists %d manifests, %d of them attestations; want the 2 images and their provenance", len(idx.Manifests), attestations)
	}
	if res.Sign == nil || !res.Sign.Verified || len(res.Sign.Attestations) != 3 {
		t.Errorf("sign result %+v, want verified, with 2 SBOMs and the vulnerability report attested", res.Sign)
	}
	if out, err := testenv.Cosign(t, "verify-attestation", "--key", pub, "--insecure-ignore-tlog=true", "--type", "vuln", repo+"@"+b.DigestStr()); err != nil {
		t.Errorf("cosign verify-attestation --type vuln: %v\n%s", err, out)
	}
	// No layer of the platform images was read: only manifests, and the
	// records' own blobs.
	layers := map[string]bool{}
	for _, pi := range b.Platforms {
		var m v1.Manifest
		if err := json.Unmarshal(registryManifest(t, repo, pi.Digest.String()), &m); err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Layers {
			layers[l.Digest.String()] = true
		}
	}
	// In the merged repository: the registry's log is shared with the
	// tests of other packages running meanwhile, whose builds read the
	// same base layers from the base's repository.
	blobs := "/v2" + strings.TrimPrefix(repo, e.Registry) + "/blobs/"
	for _, req := range e.RegistryRequests(t, mark) {
		if req.IsBlobGet() && strings.HasPrefix(req.Path, blobs) && layers[path.Base(req.Path)] {
			t.Errorf("the merge read a layer of the images: %s %s", req.Method, req.Path)
		}
	}

	// A line naming another platform's manifest: refused, no tag.
	f := strings.Fields(arm)
	forged := f[0] + " " + strings.Fields(amd)[1] + " " + f[2]
	r = slipway(t, dir, mergeEnv(amd+"\n"+forged, "v2"), "merge")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "is not of") {
		t.Errorf("a forged line: exit %d, last line %q; want 1, the record refused", r.code, lastLine(r.stderr))
	}
	// A platform whose scan found a blocking vulnerability: the gate
	// fails, no tag.
	vulnerable := partialRun(t, e, debianFiles, repo, "linux/arm64", db)
	r = slipway(t, dir, mergeEnv(amd+"\n"+vulnerable, "v3"), "merge")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "gate") || !strings.Contains(r.stderr, "CVE-2099-0001") {
		t.Errorf("a failing recorded scan: exit %d, want 1 at the gate naming CVE-2099-0001\n%s", r.code, r.stderr)
	}
	for _, tag := range testenv.RegistryTags(t, repo) {
		if tag == "v2" || tag == "v3" {
			t.Errorf("a refused merge left tag %s", tag)
		}
	}
}
