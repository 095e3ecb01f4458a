package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/slipway-ci/slipway/internal/partial"
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
