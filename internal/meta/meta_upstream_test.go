package meta

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/ci"
	"github.com/slipway-ci/slipway/internal/errs"
)

// This file ports docker/metadata-action's __tests__/meta.test.ts. Each
// case keeps its upstream name; the contexts are the fixture .env files
// (GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA and what the tests read of
// the event payloads) and repo.json.

// testNow is the date meta.test.ts mocks (moment and toISOString).
var testNow = time.Date(2020, 1, 10, 0, 30, 0, 0, time.UTC)

// metadataActionDefaults is metadata-action's tags input default, used
// where an upstream case gives no tags.
var metadataActionDefaults = []string{"type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"}

// repoFixture is __tests__/fixtures/repo.json.
var repoFixture = ci.Repository{
	Name:          "octocat/Hello-World",
	URL:           "https://github.com/octocat/Hello-World",
	Description:   "This your first repo!",
	License:       "MIT",
	DefaultBranch: "master",
}

const (
	sha860 = "860c1904a1ce19322e91ac35af1ab07466440c37"
	sha266 = "266574110acf203503badf966df2ea24b5d732d7"
	sha983 = "983315b5e8d46e46fc4c49869e85e7ee5fb289ba"
	shaA9C = "a9c8c5828b91be19d9728548b24759e352367ef1"
	sha337 = "3370e228f2209994d57af4427fe64e71bb79ac96" // pull_request.head.sha of the PR payloads
)

// fixture returns the context of an upstream fixture .env file.
func fixture(t testing.TB, env string) *ci.Context {
	t.Helper()
	c := map[string]ci.Context{
		"event_null.env":              {},
		"event_empty.env":             {},
		"event_push_dev.env":          {EventName: "push", Ref: "refs/heads/dev", SHA: sha860},
		"event_push_master.env":       {EventName: "push", Ref: "refs/heads/master", SHA: sha266},
		"event_push_invalidchars.env": {EventName: "push", Ref: "refs/heads/my/feature#1245", SHA: sha983},
		"event_workflow_dispatch.env": {EventName: "workflow_dispatch", Ref: "refs/heads/master", SHA: sha860},
		"event_schedule.env":          {EventName: "schedule", Ref: "refs/heads/master", SHA: sha860},
		"event_release_created.env":   {EventName: "release", Ref: "refs/tags/v1.1.1", SHA: sha860},
		// event_tag_v1.1.1.json carries "base_ref": "refs/heads/master".
		"event_tag_v1.1.1.env":          {EventName: "push", Ref: "refs/tags/v1.1.1", SHA: sha860, BaseRef: "refs/heads/master"},
		"event_tag_release1.env":        {EventName: "push", Ref: "refs/tags/release1", SHA: sha860},
		"event_tag_20200110-RC2.env":    {EventName: "push", Ref: "refs/tags/20200110-RC2", SHA: sha860},
		"event_tag_v2.0.8-beta.67.env":  {EventName: "push", Ref: "refs/tags/v2.0.8-beta.67", SHA: sha860},
		"event_tag_sometag.env":         {EventName: "push", Ref: "refs/tags/sometag", SHA: sha860},
		"event_tag_p1-v1.0.0.env":       {EventName: "push", Ref: "refs/tags/p1/v1.0.0", SHA: sha860},
		"event_tag_1.2.env":             {EventName: "push", Ref: "refs/tags/1.2", SHA: sha860},
		"event_tag_1.1beta2.env":        {EventName: "push", Ref: "refs/tags/1.1beta2", SHA: sha860},
		"event_tag_1.0dev4.env":         {EventName: "push", Ref: "refs/tags/1.0dev4", SHA: sha860},
		"event_tag_1.2.3rc2.env":        {EventName: "push", Ref: "refs/tags/1.2.3rc2", SHA: sha860},
		"event_tag_1.2post1.env":        {EventName: "push", Ref: "refs/tags/1.2post1", SHA: sha860},
		"event_tag_v1.2.3rc2.env":       {EventName: "push", Ref: "refs/tags/v1.2.3rc2", SHA: sha860},
		"event_pull_request.env":        {EventName: "pull_request", Ref: "refs/pull/15/merge", SHA: shaA9C, PRNumber: 15, PRHeadSHA: sha337, BaseRef: "master"},
		"event_pull_request_target.env": {EventName: "pull_request_target", Ref: "refs/heads/master", SHA: sha266, PRNumber: 15, PRHeadSHA: sha337, BaseRef: "master"},
	}[env]
	if env != "event_null.env" && env != "event_empty.env" && c.EventName == "" {
		t.Fatalf("unknown fixture %s", env)
	}
	c.Repository = repoFixture
	return &c
}

// ociLabels is the label list meta.test.ts expects when no label is
// customised.
func ociLabels(revision, version string) []string {
	return []string{
		"org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
		"org.opencontainers.image.description=This your first repo!",
		"org.opencontainers.image.licenses=MIT",
		"org.opencontainers.image.revision=" + revision,
		"org.opencontainers.image.source=https://github.com/octocat/Hello-World",
		"org.opencontainers.image.title=Hello-World",
		"org.opencontainers.image.url=https://github.com/octocat/Hello-World",
		"org.opencontainers.image.version=" + version,
	}
}

// metaCase is one tagsLabelsTest case of meta.test.ts.
type metaCase struct {
	name, env string
	in        Inputs
	main      string
	partial   []string
	latest    bool
	tags      []string
	// labels and annotations default to ociLabels(fixture sha, main).
	labels, annotations []string
}

// compute runs Parse and Compute the way meta.test.ts runs Meta.
func compute(t testing.TB, c metaCase) *Result {
	t.Helper()
	in := c.in
	if len(in.Tags) == 0 {
		in.Tags = metadataActionDefaults
	}
	spec, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	res, err := spec.Compute(fixture(t, c.env), testNow)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return res
}

func labelStrings(kvs []KV) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, kv.String())
	}
	return out
}

// stripLevel removes the "manifest:" level of annotations.
func stripLevel(annotations []string) []string {
	out := []string{}
	for _, a := range annotations {
		_, kv, _ := cutString(a, ":")
		out = append(out, kv)
	}
	return out
}

func cutString(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func checkMetaCase(t *testing.T, c metaCase, revision string, res *Result) {
	t.Helper()
	wantPartial := c.partial
	if wantPartial == nil {
		wantPartial = []string{}
	}
	if res.Version.Main != c.main || !slices.Equal(res.Version.Partial, wantPartial) || res.Version.Latest != c.latest {
		t.Errorf("version = %+v, want {Main:%s Partial:%v Latest:%v}", res.Version, c.main, wantPartial, c.latest)
	}
	if !slices.Equal(res.Tags, c.tags) {
		t.Errorf("tags =\n%q\nwant\n%q", res.Tags, c.tags)
	}
	wantLabels := c.labels
	if wantLabels == nil {
		wantLabels = ociLabels(revision, c.main)
	}
	if got := labelStrings(res.Labels); !slices.Equal(got, wantLabels) {
		t.Errorf("labels =\n%q\nwant\n%q", got, wantLabels)
	}
	wantAnnotations := c.annotations
	if wantAnnotations == nil {
		wantAnnotations = wantLabels
	}
	if got := stripLevel(res.AnnotationStrings()); !slices.Equal(got, wantAnnotations) {
		t.Errorf("annotations =\n%q\nwant\n%q", got, wantAnnotations)
	}
}

// upstreamCases are the null, push, tag, latest, pr, schedule, release
// and raw suites of meta.test.ts.
var upstreamCases = []metaCase{
	{name: "null01", env: "event_null.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "", partial: nil, latest: false, tags: nil},
	{name: "null02", env: "event_empty.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=sha", "type=raw,{{branch}}"}, Flavor: nil}, main: "", partial: nil, latest: false, tags: nil},
	{name: "push01", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "dev", partial: nil, latest: false, tags: []string{"user/app:dev"}},
	{name: "push02", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=edge"}, Flavor: nil}, main: "edge", partial: nil, latest: false, tags: []string{"user/app:edge"}},
	{name: "push03", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "master", partial: nil, latest: false, tags: []string{"user/app:master"}},
	{name: "push04", env: "event_workflow_dispatch.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=edge"}, Flavor: nil}, main: "edge", partial: nil, latest: false, tags: []string{"user/app:edge"}},
	{name: "push05", env: "event_push_dev.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: nil, Flavor: nil}, main: "dev", partial: nil, latest: false, tags: []string{"org/app:dev", "ghcr.io/user/app:dev"}},
	{name: "push06", env: "event_push_master.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=edge"}, Flavor: nil}, main: "edge", partial: nil, latest: false, tags: []string{"org/app:edge", "ghcr.io/user/app:edge"}},
	{name: "push07", env: "event_push_dev.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=branch", "type=sha"}, Flavor: nil}, main: "dev", partial: []string{"sha-860c190"}, latest: false, tags: []string{"org/app:dev", "org/app:sha-860c190", "ghcr.io/user/app:dev", "ghcr.io/user/app:sha-860c190"}},
	{name: "push08", env: "event_push_master.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=edge", "type=sha"}, Flavor: nil}, main: "edge", partial: []string{"sha-2665741"}, latest: false, tags: []string{"org/app:edge", "org/app:sha-2665741", "ghcr.io/user/app:edge", "ghcr.io/user/app:sha-2665741"}},
	{name: "push09", env: "event_push_dev.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=edge,branch=dev", "type=sha"}, Flavor: nil}, main: "edge", partial: []string{"sha-860c190"}, latest: false, tags: []string{"org/app:edge", "org/app:sha-860c190", "ghcr.io/user/app:edge", "ghcr.io/user/app:sha-860c190"}},
	{name: "push10", env: "event_push_master.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=edge,branch=dev", "type=sha"}, Flavor: nil}, main: "sha-2665741", partial: nil, latest: false, tags: []string{"org/app:sha-2665741", "ghcr.io/user/app:sha-2665741"}},
	{name: "push11", env: "event_push_invalidchars.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=edge", "type=sha"}, Flavor: nil}, main: "sha-983315b", partial: nil, latest: false, tags: []string{"org/app:sha-983315b", "ghcr.io/user/app:sha-983315b"}},
	{name: "push12", env: "event_push_invalidchars.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{version}}", "type=pep440,pattern={{version}}", "type=edge"}, Flavor: nil}, main: "", partial: nil, latest: false, tags: nil},
	{name: "push13", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,priority=2000,event=branch", "type=edge"}, Flavor: nil}, main: "master", partial: []string{"edge"}, latest: false, tags: []string{"user/app:master", "user/app:edge"}},
	{name: "push14", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=semver,pattern={{version}},value=v1.2.3", "type=pep440,pattern={{version}},value=v1.2.3", "type=edge"}, Flavor: nil}, main: "1.2.3", partial: []string{"edge"}, latest: true, tags: []string{"user/app:1.2.3", "user/app:edge", "user/app:latest"}},
	{name: "push15", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=match,pattern=v(.*),group=1,value=v1.2.3", "type=edge"}, Flavor: nil}, main: "1.2.3", partial: []string{"edge"}, latest: true, tags: []string{"user/app:1.2.3", "user/app:edge", "user/app:latest"}},
	{name: "push16", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=match,enable=false,pattern=v(.*),group=1,value=v1.2.3", "type=edge"}, Flavor: nil}, main: "edge", partial: nil, latest: false, tags: []string{"user/app:edge"}},
	{name: "push17", env: "event_push_master.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=raw,value=mytag-{{branch}}", "type=raw,value=mytag-{{date 'YYYYMMDD'}}", "type=raw,value=mytag-cd-{{commit_date 'YYYYMMDD'}}", "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", "type=raw,value=mytag-tag-{{tag}}", "type=raw,value=mytag-baseref-{{base_ref}}", "type=raw,value=mytag-defbranch,enable={{is_default_branch}}"}, Flavor: nil}, main: "mytag-master", partial: []string{"mytag-20200110", "mytag-cd-20200110", "mytag-20200110-093000", "mytag-tag-", "mytag-baseref-", "mytag-defbranch"}, latest: false, tags: []string{"user/app:mytag-master", "user/app:mytag-20200110", "user/app:mytag-cd-20200110", "user/app:mytag-20200110-093000", "user/app:mytag-tag-", "user/app:mytag-baseref-", "user/app:mytag-defbranch"}},
	{name: "push18", env: "event_push_dev.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=branch", "type=sha,format=long"}, Flavor: nil}, main: "dev", partial: []string{"sha-860c1904a1ce19322e91ac35af1ab07466440c37"}, latest: false, tags: []string{"org/app:dev", "org/app:sha-860c1904a1ce19322e91ac35af1ab07466440c37", "ghcr.io/user/app:dev", "ghcr.io/user/app:sha-860c1904a1ce19322e91ac35af1ab07466440c37"}},
	{name: "push19", env: "event_push_dev.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=edge,branch=master", "type=ref,event=branch,enable=false", "type=sha,format=long", "type=raw,value=defbranch,enable={{is_default_branch}}"}, Flavor: nil}, main: "sha-860c1904a1ce19322e91ac35af1ab07466440c37", partial: nil, latest: false, tags: []string{"org/app:sha-860c1904a1ce19322e91ac35af1ab07466440c37", "ghcr.io/user/app:sha-860c1904a1ce19322e91ac35af1ab07466440c37"}},
	{name: "push20", env: "event_push_dev.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app,enable=false"}, Tags: []string{"type=edge,branch=master", "type=ref,event=branch,enable=false", "type=sha,format=long"}, Flavor: nil}, main: "sha-860c1904a1ce19322e91ac35af1ab07466440c37", partial: nil, latest: false, tags: []string{"org/app:sha-860c1904a1ce19322e91ac35af1ab07466440c37"}},
	{name: "tag01", env: "event_tag_release1.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "release1", partial: nil, latest: true, tags: []string{"user/app:release1", "user/app:latest"}},
	{name: "tag02", env: "event_tag_20200110-RC2.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "20200110-RC2", partial: nil, latest: true, tags: []string{"user/app:20200110-RC2", "user/app:latest"}},
	{name: "tag03", env: "event_tag_20200110-RC2.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,pattern=\d{8}`}, Flavor: []string{"latest=false"}}, main: "20200110", partial: nil, latest: false, tags: []string{"user/app:20200110"}},
	{name: "tag04", env: "event_tag_20200110-RC2.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=match,pattern=(.*)-RC,group=1"}, Flavor: []string{"latest=false"}}, main: "20200110", partial: nil, latest: false, tags: []string{"user/app:20200110"}},
	{name: "tag05", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=\d.\d.\d"`}, Flavor: nil}, main: "1.1.1", partial: nil, latest: true, tags: []string{"org/app:1.1.1", "org/app:latest", "ghcr.io/user/app:1.1.1", "ghcr.io/user/app:latest"}},
	{name: "tag06", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=^v(\d.\d.\d)$",group=1`}, Flavor: nil}, main: "1.1.1", partial: nil, latest: true, tags: []string{"org/app:1.1.1", "org/app:latest", "ghcr.io/user/app:1.1.1", "ghcr.io/user/app:latest"}},
	{name: "tag07", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=\d.\d.\d-(alpha|beta).\d+"`}, Flavor: nil}, main: "2.0.8-beta.67", partial: nil, latest: true, tags: []string{"org/app:2.0.8-beta.67", "org/app:latest", "ghcr.io/user/app:2.0.8-beta.67", "ghcr.io/user/app:latest"}},
	{name: "tag08", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=\d.\d"`}, Flavor: nil}, main: "2.0", partial: nil, latest: true, tags: []string{"org/app:2.0", "org/app:latest", "ghcr.io/user/app:2.0", "ghcr.io/user/app:latest"}},
	{name: "tag09", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=v(.*)-beta.(.*)",group=1`, `type=match,"pattern=v(.*)-beta.(.*)",group=2`}, Flavor: nil}, main: "2.0.8", partial: []string{"67"}, latest: true, tags: []string{"org/app:2.0.8", "org/app:67", "org/app:latest", "ghcr.io/user/app:2.0.8", "ghcr.io/user/app:67", "ghcr.io/user/app:latest"}},
	{name: "tag10", env: "event_tag_sometag.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=\d.\d"`}, Flavor: nil}, main: "", partial: nil, latest: false, tags: nil},
	{name: "tag11", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"}, Flavor: nil}, main: "1.1.1", partial: []string{"1.1", "1"}, latest: true, tags: []string{"org/app:1.1.1", "org/app:1.1", "org/app:1", "org/app:latest", "ghcr.io/user/app:1.1.1", "ghcr.io/user/app:1.1", "ghcr.io/user/app:1", "ghcr.io/user/app:latest"}},
	{name: "tag12", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"}, Flavor: nil}, main: "1.1.1", partial: nil, latest: true, tags: []string{"org/app:1.1.1", "org/app:latest", "ghcr.io/user/app:1.1.1", "ghcr.io/user/app:latest"}},
	{name: "tag13", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"}, Flavor: nil}, main: "2.0.8-beta.67", partial: nil, latest: false, tags: []string{"org/app:2.0.8-beta.67", "ghcr.io/user/app:2.0.8-beta.67"}},
	{name: "tag14", env: "event_tag_sometag.env", in: Inputs{Images: []string{"ghcr.io/user/app"}, Tags: []string{"type=ref,event=tag", "type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"}, Flavor: []string{"latest=false"}}, main: "sometag", partial: nil, latest: false, tags: []string{"ghcr.io/user/app:sometag"}},
	{name: "tag15", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=raw,priority=2000,foo", "type=semver,pattern={{version}}", `type=match,"pattern=\d.\d"`}, Flavor: nil}, main: "foo", partial: []string{"2.0.8-beta.67", "2.0"}, latest: false, tags: []string{"org/app:foo", "org/app:2.0.8-beta.67", "org/app:2.0", "ghcr.io/user/app:foo", "ghcr.io/user/app:2.0.8-beta.67", "ghcr.io/user/app:2.0"}},
	{name: "tag16", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=raw,priority=2000,foo", "type=ref,event=tag", "type=edge"}, Flavor: nil}, main: "foo", partial: []string{"v1.1.1"}, latest: false, tags: []string{"org/app:foo", "org/app:v1.1.1", "ghcr.io/user/app:foo", "ghcr.io/user/app:v1.1.1"}},
	{name: "tag17", env: "event_tag_p1-v1.0.0.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=/^v(\d.\d.\d)$/ig",group=1`, `type=match,pattern=\d.\d.\d`, `type=match,pattern=\d.\d`, "type=ref,event=pr", "type=sha"}, Flavor: nil}, main: "1.0.0", partial: []string{"1.0", "sha-860c190"}, latest: true, tags: []string{"org/app:1.0.0", "org/app:1.0", "org/app:sha-860c190", "org/app:latest", "ghcr.io/user/app:1.0.0", "ghcr.io/user/app:1.0", "ghcr.io/user/app:sha-860c190", "ghcr.io/user/app:latest"}},
	{name: "tag18", env: "event_tag_p1-v1.0.0.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,pattern=p1/v(\d.\d.\d),group=1`, `type=match,pattern=p1/v(\d.\d),group=1`, `type=match,pattern=p1/v(\d.\d),group=3`, "type=ref,event=pr", "type=sha"}, Flavor: nil}, main: "1.0.0", partial: []string{"1.0", "sha-860c190"}, latest: true, tags: []string{"org/app:1.0.0", "org/app:1.0", "org/app:sha-860c190", "org/app:latest", "ghcr.io/user/app:1.0.0", "ghcr.io/user/app:1.0", "ghcr.io/user/app:sha-860c190", "ghcr.io/user/app:latest"}},
	{name: "tag19", env: "event_tag_p1-v1.0.0.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,pattern=p1/v(\d.\d.\d),group=1`, `type=match,pattern=p1/v(\d.\d),group=1,suffix=`, "type=ref,event=pr", "type=sha"}, Flavor: []string{"suffix=-dev"}}, main: "1.0.0-dev", partial: []string{"1.0", "sha-860c190-dev"}, latest: true, tags: []string{"org/app:1.0.0-dev", "org/app:1.0", "org/app:sha-860c190-dev", "org/app:latest", "ghcr.io/user/app:1.0.0-dev", "ghcr.io/user/app:1.0", "ghcr.io/user/app:sha-860c190-dev", "ghcr.io/user/app:latest"}},
	{name: "tag20", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=raw,{{tag}}-{{sha}}-foo", "type=raw,{{base_ref}}-foo", "type=raw,defbranch-foo,enable={{is_default_branch}}"}, Flavor: nil}, main: "v1.1.1-860c190-foo", partial: []string{"master-foo"}, latest: false, tags: []string{"org/app:v1.1.1-860c190-foo", "org/app:master-foo", "ghcr.io/user/app:v1.1.1-860c190-foo", "ghcr.io/user/app:master-foo"}},
	{name: "tag21", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"}, Flavor: []string{"suffix=-dev,onlatest=true"}}, main: "1.1.1-dev", partial: nil, latest: true, tags: []string{"org/app:1.1.1-dev", "org/app:latest-dev", "ghcr.io/user/app:1.1.1-dev", "ghcr.io/user/app:latest-dev"}},
	{name: "tag22", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"}, Flavor: []string{"prefix=foo-,onlatest=true", "suffix=-dev,onlatest=true"}}, main: "foo-1.1.1-dev", partial: nil, latest: true, tags: []string{"org/app:foo-1.1.1-dev", "org/app:foo-latest-dev", "ghcr.io/user/app:foo-1.1.1-dev", "ghcr.io/user/app:foo-latest-dev"}},
	{name: "tag23", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=pep440,pattern={{raw}}", "type=pep440,pattern={{major}}.{{minor}}"}, Flavor: nil}, main: "v1.1.1", partial: []string{"1.1"}, latest: true, tags: []string{"org/app:v1.1.1", "org/app:1.1", "org/app:latest"}},
	{name: "tag24", env: "event_tag_1.2.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}"}, Flavor: nil}, main: "1.2", partial: nil, latest: true, tags: []string{"org/app:1.2", "org/app:latest"}},
	{name: "tag25", env: "event_tag_1.1beta2.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: nil}, main: "1.1b2", partial: nil, latest: false, tags: []string{"org/app:1.1b2", "ghcr.io/user/app:1.1b2"}},
	{name: "tag26", env: "event_tag_1.0dev4.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: nil}, main: "1.0.dev4", partial: nil, latest: false, tags: []string{"org/app:1.0.dev4", "ghcr.io/user/app:1.0.dev4"}},
	{name: "tag27", env: "event_tag_1.2.3rc2.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=pep440,pattern={{raw}}", "type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: nil}, main: "1.2.3rc2", partial: nil, latest: false, tags: []string{"org/app:1.2.3rc2", "ghcr.io/user/app:1.2.3rc2"}},
	{name: "tag28", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}.{{patch}}", "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: nil}, main: "1.1.1", partial: []string{"1.1", "1"}, latest: true, tags: []string{"org/app:1.1.1", "org/app:1.1", "org/app:1", "org/app:latest"}},
	{name: "tag29", env: "event_tag_1.2post1.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: nil}, main: "1.2.post1", partial: nil, latest: false, tags: []string{"org/app:1.2.post1"}},
	{name: "tag30", env: "event_tag_sometag.env", in: Inputs{Images: []string{"ghcr.io/user/app"}, Tags: []string{"type=ref,event=tag", "type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: []string{"latest=false"}}, main: "sometag", partial: nil, latest: false, tags: []string{"ghcr.io/user/app:sometag"}},
	{name: "tag31", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{raw}}"}, Flavor: nil}, main: "v2.0.8-beta.67", partial: nil, latest: false, tags: []string{"org/app:v2.0.8-beta.67", "ghcr.io/user/app:v2.0.8-beta.67"}},
	{name: "tag32", env: "event_tag_v1.2.3rc2.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=pep440,pattern={{raw}}", "type=pep440,pattern={{major}}.{{minor}}"}, Flavor: nil}, main: "v1.2.3rc2", partial: []string{"1.2.3rc2"}, latest: false, tags: []string{"org/app:v1.2.3rc2", "org/app:1.2.3rc2", "ghcr.io/user/app:v1.2.3rc2", "ghcr.io/user/app:1.2.3rc2"}},
	{name: "tag33", env: "event_tag_v1.1.1.env", in: Inputs{Images: nil, Tags: []string{"type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}.{{patch}}", "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"}, Flavor: nil}, main: "1.1.1", partial: []string{"1.1", "1"}, latest: true, tags: []string{"1.1.1", "1.1", "1", "latest"}},
	{name: "latest01", env: "event_tag_release1.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,"pattern=^release\d{1,2}"`}, Flavor: nil}, main: "release1", partial: nil, latest: true, tags: []string{"user/app:release1", "user/app:latest"}},
	{name: "latest02", env: "event_tag_20200110-RC2.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,"pattern=^\d+-RC\d{1,2}"`}, Flavor: nil}, main: "20200110-RC2", partial: nil, latest: true, tags: []string{"user/app:20200110-RC2", "user/app:latest"}},
	{name: "latest03", env: "event_tag_20200110-RC2.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,pattern=\d{8}`}, Flavor: nil}, main: "20200110", partial: nil, latest: true, tags: []string{"user/app:20200110", "user/app:latest"}},
	{name: "latest04", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,"pattern=\d.\d.\d"`}, Flavor: nil}, main: "1.1.1", partial: nil, latest: true, tags: []string{"user/app:1.1.1", "user/app:latest"}},
	{name: "latest05", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: nil, Flavor: nil}, main: "v1.1.1", partial: nil, latest: true, tags: []string{"org/app:v1.1.1", "org/app:latest", "ghcr.io/user/app:v1.1.1", "ghcr.io/user/app:latest"}},
	{name: "latest06", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{`type=match,"pattern=\d.\d.\d"`}, Flavor: nil}, main: "2.0.8", partial: nil, latest: true, tags: []string{"org/app:2.0.8", "org/app:latest", "ghcr.io/user/app:2.0.8", "ghcr.io/user/app:latest"}},
	{name: "latest07", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=tag"}, Flavor: []string{"latest=false"}}, main: "v1.1.1", partial: nil, latest: false, tags: []string{"org/app:v1.1.1", "ghcr.io/user/app:v1.1.1"}},
	{name: "latest08", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/MyUSER/MyApp"}, Tags: []string{"type=ref,event=tag"}, Flavor: []string{"latest=false"}}, main: "v1.1.1", partial: nil, latest: false, tags: []string{"org/app:v1.1.1", "ghcr.io/myuser/myapp:v1.1.1"}},
	{name: "latest10", env: "event_tag_v2.0.8-beta.67.env", in: Inputs{Images: nil, Tags: []string{`type=match,"pattern=\d.\d.\d"`}, Flavor: nil}, main: "2.0.8", partial: nil, latest: true, tags: []string{"2.0.8", "latest"}},
	{name: "pr01", env: "event_pull_request.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "pr-15", partial: nil, latest: false, tags: []string{"user/app:pr-15"}},
	{name: "pr02", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: nil, Flavor: nil}, main: "pr-15", partial: nil, latest: false, tags: []string{"org/app:pr-15", "ghcr.io/user/app:pr-15"}},
	{name: "pr03", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=pr", "type=sha"}, Flavor: nil}, main: "pr-15", partial: []string{"sha-a9c8c58"}, latest: false, tags: []string{"org/app:pr-15", "org/app:sha-a9c8c58", "ghcr.io/user/app:pr-15", "ghcr.io/user/app:sha-a9c8c58"}},
	{name: "pr04", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=sha,priority=2000", "type=ref,event=pr"}, Flavor: nil}, main: "sha-a9c8c58", partial: []string{"pr-15"}, latest: false, tags: []string{"org/app:sha-a9c8c58", "org/app:pr-15", "ghcr.io/user/app:sha-a9c8c58", "ghcr.io/user/app:pr-15"}},
	{name: "pr05", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=pr"}, Flavor: []string{"prefix=glo-", "suffix=-bal"}}, main: "pr-15-bal", partial: nil, latest: false, tags: []string{"org/app:pr-15-bal", "ghcr.io/user/app:pr-15-bal"}},
	{name: "pr06", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=pr,prefix="}, Flavor: []string{"prefix=glo-", "suffix=-bal"}}, main: "15-bal", partial: nil, latest: false, tags: []string{"org/app:15-bal", "ghcr.io/user/app:15-bal"}},
	{name: "pr07", env: "event_pull_request_target.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=sha,priority=2000", "type=ref,event=pr"}, Flavor: nil}, main: "sha-2665741", partial: []string{"pr-15"}, latest: false, tags: []string{"org/app:sha-2665741", "org/app:pr-15", "ghcr.io/user/app:sha-2665741", "ghcr.io/user/app:pr-15"}},
	{name: "pr08", env: "event_pull_request_target.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=ref,event=pr,prefix="}, Flavor: []string{"prefix=glo-", "suffix=-bal"}}, main: "15-bal", partial: nil, latest: false, tags: []string{"org/app:15-bal", "ghcr.io/user/app:15-bal"}},
	{name: "pr09", env: "event_pull_request_target.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=ref,event=tag", "type=ref,event=pr", "type=ref,event=branch", "type=sha", "type=sha,format=long"}, Flavor: nil}, main: "pr-15", partial: []string{"sha-2665741", "sha-266574110acf203503badf966df2ea24b5d732d7"}, latest: false, tags: []string{"org/app:pr-15", "org/app:sha-2665741", "org/app:sha-266574110acf203503badf966df2ea24b5d732d7"}},
	{name: "pr10", env: "event_pull_request_target.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=raw,value=mytag-{{base_ref}}", "type=raw,mytag-defbranch,enable={{is_default_branch}}"}, Flavor: nil}, main: "mytag-master", partial: nil, latest: false, tags: []string{"org/app:mytag-master"}},
	{name: "pr11", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=raw,value=mytag-{{base_ref}}", "type=raw,mytag-defbranch,enable={{is_default_branch}}"}, Flavor: nil}, main: "mytag-master", partial: nil, latest: false, tags: []string{"org/app:mytag-master"}},
	{name: "pr12", env: "event_pull_request.env", in: Inputs{Images: []string{"org/app"}, Tags: []string{"type=raw,value={{commit_date YYYY-MM-DD-HHmmSS}}"}, Flavor: nil}, main: "2020-01-10T00-30-00Z", partial: nil, latest: false, tags: []string{"org/app:2020-01-10T00-30-00Z"}},
	{name: "schedule01", env: "event_schedule.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "nightly", partial: []string{"master"}, latest: false, tags: []string{"user/app:nightly", "user/app:master"}},
	{name: "schedule02", env: "event_schedule.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=schedule,pattern={{date 'YYYYMMDD'}}", "type=schedule,pattern=source-date-{{commit_date 'YYYY-MM-DD'}}"}, Flavor: nil}, main: "20200110", partial: []string{"source-date-2020-01-10"}, latest: false, tags: []string{"user/app:20200110", "user/app:source-date-2020-01-10"}},
	{name: "schedule03", env: "event_schedule.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=schedule,pattern={{date 'YYYYMMDD-HHmmss'}}"}, Flavor: nil}, main: "20200110-003000", partial: nil, latest: false, tags: []string{"user/app:20200110-003000"}},
	{name: "schedule04", env: "event_schedule.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: nil, Flavor: nil}, main: "nightly", partial: []string{"master"}, latest: false, tags: []string{"org/app:nightly", "org/app:master", "ghcr.io/user/app:nightly", "ghcr.io/user/app:master"}},
	{name: "schedule05", env: "event_schedule.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=schedule", "type=sha"}, Flavor: nil}, main: "nightly", partial: []string{"sha-860c190"}, latest: false, tags: []string{"org/app:nightly", "org/app:sha-860c190", "ghcr.io/user/app:nightly", "ghcr.io/user/app:sha-860c190"}},
	{name: "schedule06", env: "event_schedule.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=schedule", "type=sha,priority=2000", "type=raw,value=defbranch,enable={{is_default_branch}}"}, Flavor: nil}, main: "sha-860c190", partial: []string{"nightly", "defbranch"}, latest: false, tags: []string{"org/app:sha-860c190", "org/app:nightly", "org/app:defbranch", "ghcr.io/user/app:sha-860c190", "ghcr.io/user/app:nightly", "ghcr.io/user/app:defbranch"}},
	{name: "schedule07", env: "event_schedule.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=schedule"}, Flavor: []string{"prefix=glo-", "suffix=-bal"}}, main: "glo-nightly-bal", partial: nil, latest: false, tags: []string{"org/app:glo-nightly-bal", "ghcr.io/user/app:glo-nightly-bal"}},
	{name: "schedule08", env: "event_schedule.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", "type=schedule,pattern=src-{{commit_date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}"}, Flavor: nil}, main: "20200110-093000", partial: []string{"src-20200110-093000"}, latest: false, tags: []string{"user/app:20200110-093000", "user/app:src-20200110-093000"}},
	{name: "release01", env: "event_release_created.env", in: Inputs{Images: []string{"user/app"}, Tags: nil, Flavor: nil}, main: "v1.1.1", partial: nil, latest: true, tags: []string{"user/app:v1.1.1", "user/app:latest"}},
	{name: "release02", env: "event_release_created.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=tag", "type=raw,value=baseref-{{base_ref}}", "type=raw,value=defbranch,enable={{is_default_branch}}"}, Flavor: nil}, main: "v1.1.1", partial: []string{"baseref-"}, latest: true, tags: []string{"user/app:v1.1.1", "user/app:baseref-", "user/app:latest"}},
	{name: "release03", env: "event_release_created.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=raw,value=src-{{commit_date 'YYYYMMDD-HHmmss'}}", "type=raw,value={{date 'YYYYMMDD-HHmmss'}}"}, Flavor: nil}, main: "src-20200110-003000", partial: []string{"20200110-003000"}, latest: false, tags: []string{"user/app:src-20200110-003000", "user/app:20200110-003000"}},
	{name: "raw01", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: nil}, main: "dev", partial: []string{"my", "custom", "tags"}, latest: false, tags: []string{"user/app:dev", "user/app:my", "user/app:custom", "user/app:tags"}},
	{name: "raw02", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=branch", "type=raw,my"}, Flavor: nil}, main: "dev", partial: []string{"my"}, latest: false, tags: []string{"user/app:dev", "user/app:my"}},
	{name: "raw03", env: "event_tag_release1.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=tag", "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: nil}, main: "release1", partial: []string{"my", "custom", "tags"}, latest: true, tags: []string{"user/app:release1", "user/app:my", "user/app:custom", "user/app:tags", "user/app:latest"}},
	{name: "raw04", env: "event_tag_20200110-RC2.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,pattern=\d{8}`, "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: []string{"latest=false"}}, main: "20200110", partial: []string{"my", "custom", "tags"}, latest: false, tags: []string{"user/app:20200110", "user/app:my", "user/app:custom", "user/app:tags"}},
	{name: "raw05", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}", "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: nil}, main: "1.1.1", partial: []string{"1.1", "1", "my", "custom", "tags"}, latest: true, tags: []string{"org/app:1.1.1", "org/app:1.1", "org/app:1", "org/app:my", "org/app:custom", "org/app:tags", "org/app:latest", "ghcr.io/user/app:1.1.1", "ghcr.io/user/app:1.1", "ghcr.io/user/app:1", "ghcr.io/user/app:my", "ghcr.io/user/app:custom", "ghcr.io/user/app:tags", "ghcr.io/user/app:latest"}},
	{name: "raw06", env: "event_tag_v1.1.1.env", in: Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: nil}, main: "my", partial: []string{"custom", "tags"}, latest: false, tags: []string{"org/app:my", "org/app:custom", "org/app:tags", "ghcr.io/user/app:my", "ghcr.io/user/app:custom", "ghcr.io/user/app:tags"}},
	{name: "raw07", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,priority=90,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: []string{"latest=true"}}, main: "my", partial: []string{"custom", "tags", "dev"}, latest: true, tags: []string{"user/app:my", "user/app:custom", "user/app:tags", "user/app:dev", "user/app:latest"}},
	{name: "raw08", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,pattern=\d{8}`, "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: []string{"latest=false"}}, main: "my", partial: []string{"custom", "tags"}, latest: false, tags: []string{"user/app:my", "user/app:custom", "user/app:tags"}},
	{name: "raw09", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,pattern=\d{8}`, "type=raw,my,prefix=foo-,suffix=-bar", "type=raw,custom", "type=raw,tags"}, Flavor: []string{"latest=false", "prefix=glo-", "suffix=-bal"}}, main: "foo-my-bar", partial: []string{"glo-custom-bal", "glo-tags-bal"}, latest: false, tags: []string{"user/app:foo-my-bar", "user/app:glo-custom-bal", "user/app:glo-tags-bal"}},
	{name: "raw10", env: "event_push_dev.env", in: Inputs{Images: []string{"user/app"}, Tags: []string{"type=raw,foo", "type=raw,bar,enable=false", "type=raw,baz,enable=true"}, Flavor: []string{"latest=false"}}, main: "foo", partial: []string{"baz"}, latest: false, tags: []string{"user/app:foo", "user/app:baz"}},
	{
		name: "push21", env: "event_push_master.env",
		in: Inputs{Images: []string{}, Tags: []string{
			"type=raw,value=mytag-{{branch}}",
			"type=raw,value=mytag-{{date 'YYYYMMDD'}}",
			"type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
			"type=raw,value=mytag-src-{{commit_date 'YYYYMMDD'}}",
			"type=raw,value=mytag-tag-{{tag}}",
			"type=raw,value=mytag-baseref-{{base_ref}}",
			"type=raw,value=mytag-defbranch,enable={{is_default_branch}}",
		}, Labels: []string{"org.opencontainers.image.created={{commit_date 'YYYY-MM-DDTHH:mm:ss.SSS[Z]'}}"}},
		main:        "mytag-master",
		partial:     []string{"mytag-20200110", "mytag-20200110-093000", "mytag-src-20200110", "mytag-tag-", "mytag-baseref-", "mytag-defbranch"},
		tags:        []string{"mytag-master", "mytag-20200110", "mytag-20200110-093000", "mytag-src-20200110", "mytag-tag-", "mytag-baseref-", "mytag-defbranch"},
		labels:      ociLabels(sha266, "mytag-master"),
		annotations: ociLabels(sha266, "mytag-master"),
	},
	{
		name: "latest09", env: "event_tag_v1.1.1.env",
		in: Inputs{
			Images: []string{"org/app", "ghcr.io/MyUSER/MyApp"}, Tags: []string{"type=ref,event=tag"}, Flavor: []string{"latest=false"},
			Labels: []string{
				"maintainer=CrazyMax",
				`org.opencontainers.image.description=this is a "good" example`,
				"org.opencontainers.image.title=MyCustomTitle",
				"org.opencontainers.image.vendor=MyCompany",
			},
			Annotations: []string{
				"maintainer=Foo",
				`org.opencontainers.image.description=this is a "bad" example`,
				"org.opencontainers.image.title=MyNotTitle",
				"org.opencontainers.image.vendor=MyNotCompany",
			},
		},
		main: "v1.1.1",
		tags: []string{"org/app:v1.1.1", "ghcr.io/myuser/myapp:v1.1.1"},
		labels: []string{
			"maintainer=CrazyMax",
			"org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
			`org.opencontainers.image.description=this is a "good" example`,
			"org.opencontainers.image.licenses=MIT",
			"org.opencontainers.image.revision=" + sha860,
			"org.opencontainers.image.source=https://github.com/octocat/Hello-World",
			"org.opencontainers.image.title=MyCustomTitle",
			"org.opencontainers.image.url=https://github.com/octocat/Hello-World",
			"org.opencontainers.image.vendor=MyCompany",
			"org.opencontainers.image.version=v1.1.1",
		},
		annotations: []string{
			"maintainer=Foo",
			"org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
			`org.opencontainers.image.description=this is a "bad" example`,
			"org.opencontainers.image.licenses=MIT",
			"org.opencontainers.image.revision=" + sha860,
			"org.opencontainers.image.source=https://github.com/octocat/Hello-World",
			"org.opencontainers.image.title=MyNotTitle",
			"org.opencontainers.image.url=https://github.com/octocat/Hello-World",
			"org.opencontainers.image.vendor=MyNotCompany",
			"org.opencontainers.image.version=v1.1.1",
		},
	},
}

func TestUpstreamMeta(t *testing.T) {
	for _, c := range upstreamCases {
		t.Run(c.name, func(t *testing.T) {
			ctx := fixture(t, c.env)
			revision := ctx.SHA
			checkMetaCase(t, c, revision, compute(t, c))
		})
	}
}

// TestUpstreamPRHeadSHA ports the pr-head-sha suite: the pr cases run
// with DOCKER_METADATA_PR_HEAD_SHA=true.
func TestUpstreamPRHeadSHA(t *testing.T) {
	want := map[string]struct {
		main    string
		partial []string
		tags    []string
	}{
		"pr01": {"pr-15", nil, []string{"user/app:pr-15"}},
		"pr02": {"pr-15", nil, []string{"org/app:pr-15", "ghcr.io/user/app:pr-15"}},
		"pr03": {"pr-15", []string{"sha-3370e22"}, []string{"org/app:pr-15", "org/app:sha-3370e22", "ghcr.io/user/app:pr-15", "ghcr.io/user/app:sha-3370e22"}},
		"pr04": {"sha-3370e22", []string{"pr-15"}, []string{"org/app:sha-3370e22", "org/app:pr-15", "ghcr.io/user/app:sha-3370e22", "ghcr.io/user/app:pr-15"}},
		"pr05": {"pr-15-bal", nil, []string{"org/app:pr-15-bal", "ghcr.io/user/app:pr-15-bal"}},
		"pr06": {"15-bal", nil, []string{"org/app:15-bal", "ghcr.io/user/app:15-bal"}},
		"pr07": {"sha-3370e22", []string{"pr-15"}, []string{"org/app:sha-3370e22", "org/app:pr-15", "ghcr.io/user/app:sha-3370e22", "ghcr.io/user/app:pr-15"}},
		"pr08": {"15-bal", nil, []string{"org/app:15-bal", "ghcr.io/user/app:15-bal"}},
		"pr09": {"pr-15", []string{"sha-3370e22", "sha-" + sha337}, []string{"org/app:pr-15", "org/app:sha-3370e22", "org/app:sha-" + sha337}},
		"pr10": {"mytag-master", nil, []string{"org/app:mytag-master"}},
		"pr11": {"mytag-master", nil, []string{"org/app:mytag-master"}},
	}
	for _, c := range upstreamCases {
		w, ok := want[c.name]
		if !ok {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			c.in.PRHeadSHA = true
			c.main, c.partial, c.tags = w.main, w.partial, w.tags
			checkMetaCase(t, c, sha337, compute(t, c))
		})
	}
	t.Run("pr12", func(t *testing.T) {
		c := metaCase{
			name: "pr12", env: "event_pull_request.env",
			in:   Inputs{Images: []string{"org/app"}, Tags: []string{"type=raw,value=src-{{commit_date YYYY-MM-DD}}"}, PRHeadSHA: true},
			main: "src-2020-01-10T00-30-00Z", tags: []string{"org/app:src-2020-01-10T00-30-00Z"},
		}
		checkMetaCase(t, c, sha337, compute(t, c))
	})
}

// TestUpstreamJSON ports the json suite (getJSON with the manifest level).
func TestUpstreamJSON(t *testing.T) {
	labels := func(version string, extra ...string) string {
		s := `"labels":{` + extra0(extra) +
			`"org.opencontainers.image.created":"2020-01-10T00:30:00.000Z",` +
			`"org.opencontainers.image.description":"This your first repo!",` +
			`"org.opencontainers.image.licenses":"MIT",` +
			`"org.opencontainers.image.revision":"` + sha860 + `",` +
			`"org.opencontainers.image.source":"https://github.com/octocat/Hello-World",` +
			`"org.opencontainers.image.title":"Hello-World",` +
			`"org.opencontainers.image.url":"https://github.com/octocat/Hello-World",` +
			`"org.opencontainers.image.version":"` + version + `"}`
		return s
	}
	annotations := func(version string) string {
		s := `"annotations":[`
		for i, l := range ociLabels(sha860, version) {
			if i > 0 {
				s += ","
			}
			s += `"manifest:` + l + `"`
		}
		return s + "]"
	}
	tests := []struct {
		name, env string
		in        Inputs
		want      string
	}{
		{"json01", "event_push_dev.env", Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"}, Labels: []string{"invalid", "foo="}},
			`{"tags":["user/app:dev","user/app:my","user/app:custom","user/app:tags"],"tag-names":["dev","my","custom","tags"],` + labels("dev", `"foo":""`) + "," + annotations("dev") +
				`,"version":{"main":"dev","partial":["my","custom","tags"],"latest":false}}`},
		{"json02", "event_push_dev.env", Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=branch", "type=raw,my"}},
			`{"tags":["user/app:dev","user/app:my"],"tag-names":["dev","my"],` + labels("dev") + "," + annotations("dev") +
				`,"version":{"main":"dev","partial":["my"],"latest":false}}`},
		{"json03", "event_tag_release1.env", Inputs{Images: []string{"user/app"}, Tags: []string{"type=ref,event=tag", "type=raw,my", "type=raw,custom", "type=raw,tags"}},
			`{"tags":["user/app:release1","user/app:my","user/app:custom","user/app:tags","user/app:latest"],"tag-names":["release1","my","custom","tags","latest"],` + labels("release1") + "," + annotations("release1") +
				`,"version":{"main":"release1","partial":["my","custom","tags"],"latest":true}}`},
		{"json04", "event_tag_20200110-RC2.env", Inputs{Images: []string{"user/app"}, Tags: []string{`type=match,pattern=\d{8}`, "type=raw,my", "type=raw,custom", "type=raw,tags"}, Flavor: []string{"latest=false"}},
			`{"tags":["user/app:20200110","user/app:my","user/app:custom","user/app:tags"],"tag-names":["20200110","my","custom","tags"],` + labels("20200110") + "," + annotations("20200110") +
				`,"version":{"main":"20200110","partial":["my","custom","tags"],"latest":false}}`},
		{"json06", "event_tag_v1.1.1.env", Inputs{Images: []string{"org/app", "ghcr.io/user/app"}, Tags: []string{"type=raw,my", "type=raw,custom", "type=raw,tags"}},
			`{"tags":["org/app:my","org/app:custom","org/app:tags","ghcr.io/user/app:my","ghcr.io/user/app:custom","ghcr.io/user/app:tags"],"tag-names":["my","custom","tags"],` + labels("my") + "," + annotations("my") +
				`,"version":{"main":"my","partial":["custom","tags"],"latest":false}}`},
		{"json07", "event_tag_v1.1.1.env", Inputs{Images: []string{"org/app"}, Labels: []string{"foo", "maintainer=CrazyMax", "org.opencontainers.image.title=MyCustom=Title", "org.opencontainers.image.description=Another description", "org.opencontainers.image.vendor=MyCompany"}},
			`{"tags":["org/app:v1.1.1","org/app:latest"],"tag-names":["v1.1.1","latest"],"labels":{"maintainer":"CrazyMax",` +
				`"org.opencontainers.image.created":"2020-01-10T00:30:00.000Z",` +
				`"org.opencontainers.image.description":"Another description",` +
				`"org.opencontainers.image.licenses":"MIT",` +
				`"org.opencontainers.image.revision":"` + sha860 + `",` +
				`"org.opencontainers.image.source":"https://github.com/octocat/Hello-World",` +
				`"org.opencontainers.image.title":"MyCustom=Title",` +
				`"org.opencontainers.image.url":"https://github.com/octocat/Hello-World",` +
				`"org.opencontainers.image.vendor":"MyCompany",` +
				`"org.opencontainers.image.version":"v1.1.1"},` + annotations("v1.1.1") +
				`,"version":{"main":"v1.1.1","partial":[],"latest":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := compute(t, metaCase{env: tt.env, in: tt.in})
			got, err := res.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("JSON =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func extra0(extra []string) string {
	if len(extra) == 0 {
		return ""
	}
	return extra[0] + ","
}

// TestUpstreamAnnotationLevels ports what the bakeFile suite checks of
// annotation levels (annotations:index,manifest-descriptor).
func TestUpstreamAnnotationLevels(t *testing.T) {
	res := compute(t, metaCase{env: "event_push_dev.env", in: Inputs{
		Images: []string{"user/app"}, Tags: []string{"type=ref,event=branch", "type=raw,my"}, Labels: []string{"invalid"},
		AnnotationLevels: []string{"index", "manifest-descriptor"},
	}})
	var want []string
	for _, level := range []string{"index", "manifest-descriptor"} {
		for _, l := range ociLabels(sha860, "dev") {
			want = append(want, level+":"+l)
		}
	}
	if !slices.Equal(res.AnnotationStrings(), want) {
		t.Errorf("annotations =\n%q\nwant\n%q", res.AnnotationStrings(), want)
	}
	if !slices.Equal(res.Images, []string{"user/app"}) {
		t.Errorf("images = %q", res.Images)
	}
}

// TestUpstreamSepTags ports the sepTags suite.
func TestUpstreamSepTags(t *testing.T) {
	for _, tt := range []struct{ name, sep, want string }{
		{"sepTags01", " ", "user/app:dev user/app:my user/app:custom user/app:tags"},
		{"sepTags02", ",", "user/app:dev,user/app:my,user/app:custom,user/app:tags"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := compute(t, metaCase{env: "event_push_dev.env", in: Inputs{
				Images: []string{"user/app"}, Tags: []string{"type=ref,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"}, SepTags: tt.sep,
			}})
			if got := res.TagsOutput(); got != tt.want {
				t.Errorf("tags output = %q, want %q", got, tt.want)
			}
		})
	}
}

// isInputError reports whether err is an *errs.InputError.
func isInputError(err error) bool {
	var ie *errs.InputError
	return errors.As(err, &ie)
}
