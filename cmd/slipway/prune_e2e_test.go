package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway-ci/slipway/internal/artifact"
	"github.com/slipway-ci/slipway/internal/prune"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// pruneFixture is what fillPruneRepo pushed: the name of each digest
// (for the golden plan and for comparing two repositories), and what the
// policy keeps and deletes.
type pruneFixture struct {
	repo    string
	names   map[v1.Hash]string
	digests map[string]v1.Hash
	// layers are the layer blob of each image by its name.
	layers map[string]v1.Hash
}

func (f *pruneFixture) add(n string, d v1.Hash) {
	f.names[d] = n
	f.digests[n] = d
}

// fillPruneRepo pushes into repo twelve versions v1.0.0 … v1.0.11 a day
// apart; pr-1 … pr-4 pushed 40 days, 10 days, 1 day and 2 hours ago (pr-2
// and pr-3 two-platform indexes sharing a platform image with main); main,
// a two-platform index, and the index main named before (now untagged);
// every one signed with priv (indexes with their platforms), v1.0.11 and
// pr-1 attested.
func fillPruneRepo(t *testing.T, repo, priv string, now time.Time) *pruneFixture {
	t.Helper()
	f := &pruneFixture{repo: repo, names: map[v1.Hash]string{}, digests: map[string]v1.Hash{}, layers: map[string]v1.Hash{}}
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	image := func(n, arch string, created time.Time) v1.Image {
		layer, err := crane.Layer(map[string][]byte{"content": []byte("the files of " + n)})
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Created, cf.OS, cf.Architecture = v1.Time{Time: created}, "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.created": created.Format(time.RFC3339)}).(v1.Image)
		d, _ := img.Digest()
		ld, _ := layer.Digest()
		f.add(n, d)
		f.layers[n] = ld
		return img
	}
	push := func(tag string, img v1.Image) v1.Hash {
		if err := remote.Write(r.Tag(tag), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d
	}
	index := func(n string, created time.Time, imgs ...v1.Image) v1.ImageIndex {
		var adds []mutate.IndexAddendum
		for _, img := range imgs {
			cf, _ := img.ConfigFile()
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: cf.Architecture}}})
		}
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
		idx = mutate.Annotations(idx, map[string]string{"org.opencontainers.image.created": created.Format(time.RFC3339)}).(v1.ImageIndex)
		d, _ := idx.Digest()
		f.add(n, d)
		return idx
	}
	pushIndex := func(tag string, idx v1.ImageIndex) v1.Hash {
		if err := remote.WriteIndex(r.Tag(tag), idx); err != nil {
			t.Fatal(err)
		}
		d, _ := idx.Digest()
		return d
	}
	cosign := func(args ...string) {
		if out, err := testenv.Cosign(t, args...); err != nil {
			t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sign := func(d v1.Hash) {
		cosign("sign", "--key", priv, "--tlog-upload=false", "--recursive", "-y", repo+"@"+d.String())
	}
	predicate := filepath.Join(t.TempDir(), "vuln.json")
	if err := os.WriteFile(predicate, []byte(`{"scanner":{"uri":"pkg:github/aquasecurity/trivy","version":"0.0.0"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	attest := func(d v1.Hash) {
		cosign("attest", "--key", priv, "--tlog-upload=false", "-y", "--type", "vuln", "--predicate", predicate, repo+"@"+d.String())
	}
	day := 24 * time.Hour
	for i := 0; i < 12; i++ {
		v := fmt.Sprintf("v1.0.%d", i)
		sign(push(v, image(v, "amd64", now.Add(-time.Duration(12-i)*day-time.Hour))))
	}
	attest(f.digests["v1.0.11"])

	old := index("main before", now.Add(-5*day), image("main before amd64", "amd64", now.Add(-5*day)), image("main before arm64", "arm64", now.Add(-5*day)))
	sign(pushIndex("main", old))
	mainAMD, mainARM := image("main amd64", "amd64", now.Add(-3*day)), image("main arm64", "arm64", now.Add(-3*day))
	sign(pushIndex("main", index("main", now.Add(-3*day), mainAMD, mainARM)))

	sign(push("pr-1", image("pr-1", "amd64", now.Add(-40*day))))
	attest(f.digests["pr-1"])
	sign(pushIndex("pr-2", index("pr-2", now.Add(-10*day), mainAMD, image("pr-2 arm64", "arm64", now.Add(-10*day)))))
	sign(pushIndex("pr-3", index("pr-3", now.Add(-day), image("pr-3 amd64", "amd64", now.Add(-day)), mainARM)))
	sign(push("pr-4", image("pr-4", "amd64", now.Add(-2*time.Hour))))

	// The signatures and attestations, named after what they sign.
	for _, tag := range testenv.RegistryTags(t, repo) {
		subject, suffix, ok := artifact.SubjectOf(tag)
		if !ok || suffix == "" {
			continue
		}
		subj := f.names[subject]
		d, err := v1.NewHash(testenv.TagDigest(t, repo+":"+tag))
		if err != nil {
			t.Fatal(err)
		}
		f.add(subj+" ."+suffix, d)
	}
	return f
}

// prunePolicy keeps the last five versions, the pr-* tags of the last
// week and main.
func prunePolicy(t *testing.T, host string) string {
	p := filepath.Join(t.TempDir(), "prune.yaml")
	err := os.WriteFile(p, []byte(strings.ReplaceAll(`rules:
  - repositories: [HOST/acme/*]
    include: ["v*"]
    last: 5
  - repositories: [HOST/acme/*]
    include: ["pr-*"]
    within: 7d
    order: pushed
  - repositories: [HOST/acme/*]
    include: [main]
`, "HOST", host)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// What the policy keeps and deletes of the fixture, by name.
var (
	prunedKeptTags = []string{"main", "pr-3", "pr-4", "v1.0.10", "v1.0.11", "v1.0.7", "v1.0.8", "v1.0.9"}
	prunedKept     = []string{
		"main", "main amd64", "main arm64", "pr-3", "pr-3 amd64", "pr-4",
		"v1.0.7", "v1.0.8", "v1.0.9", "v1.0.10", "v1.0.11",
	}
	prunedGone = []string{
		"v1.0.0", "v1.0.1", "v1.0.2", "v1.0.3", "v1.0.4", "v1.0.5", "v1.0.6",
		"pr-1", "pr-2", "pr-2 arm64", "main before", "main before amd64", "main before arm64",
	}
)

// pruneState is a repository's tags and which fixture digests it holds,
// by name: what two repositories pruned alike share.
func pruneState(t *testing.T, f *pruneFixture) string {
	t.Helper()
	var lines []string
	for _, tag := range testenv.RegistryTags(t, f.repo) {
		d, err := v1.NewHash(testenv.TagDigest(t, f.repo+":"+tag))
		if err != nil {
			t.Fatal(err)
		}
		if subject, suffix, ok := artifact.SubjectOf(tag); ok && suffix != "" {
			tag = "<" + f.names[subject] + ">." + suffix
		}
		lines = append(lines, tag+" -> "+f.names[d])
	}
	r, _ := name.NewRepository(f.repo)
	for _, n := range slices.Sorted(maps.Keys(f.digests)) {
		if _, err := remote.Head(r.Digest(f.digests[n].String())); err == nil {
			lines = append(lines, "holds "+n)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// checkPruned says the kept tags all pull whole and verify with the
// cosign CLI (indexes with their platforms), and the rest is gone with
// its signatures and attestations.
func checkPruned(t *testing.T, f *pruneFixture, pub string) {
	t.Helper()
	r, _ := name.NewRepository(f.repo)
	var sigs []string
	for _, n := range prunedKept {
		sigs = append(sigs, n+" .sig")
	}
	wantTags := slices.Concat(prunedKeptTags, sigs, []string{"v1.0.11 .att"})
	var got []string
	for _, tag := range testenv.RegistryTags(t, f.repo) {
		if subject, suffix, ok := artifact.SubjectOf(tag); ok && suffix != "" {
			tag = f.names[subject] + " ." + suffix
		}
		got = append(got, tag)
	}
	slices.Sort(got)
	slices.Sort(wantTags)
	if !slices.Equal(got, wantTags) {
		t.Errorf("%s tags:\n%s\nwant:\n%s", f.repo, strings.Join(got, "\n"), strings.Join(wantTags, "\n"))
	}
	for _, tag := range prunedKeptTags {
		desc, err := remote.Get(r.Tag(tag))
		if err != nil {
			t.Errorf("pulling %s:%s: %v", f.repo, tag, err)
			continue
		}
		if desc.MediaType.IsIndex() {
			idx, _ := desc.ImageIndex()
			err = validate.Index(idx)
		} else {
			img, _ := desc.Image()
			err = validate.Image(img)
		}
		if err != nil {
			t.Errorf("%s:%s does not pull whole: %v", f.repo, tag, err)
		}
		if out, err := testenv.Cosign(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", f.repo+":"+tag); err != nil {
			t.Errorf("cosign verify %s:%s: %v\n%s", f.repo, tag, err, out)
		}
	}
	if out, err := testenv.Cosign(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", f.repo+"@"+f.digests["main arm64"].String()); err != nil {
		t.Errorf("cosign verify main's arm64 image: %v\n%s", err, out)
	}
	for _, n := range prunedGone {
		for _, what := range []string{n, n + " .sig", n + " .att"} {
			d, ok := f.digests[what]
			if !ok {
				continue
			}
			if _, err := remote.Head(r.Digest(d.String())); err == nil {
				t.Errorf("%s (%s) is still in %s", what, d, f.repo)
			}
		}
	}
}

// normalizePlan names the digests of a prune plan, puts the registry's
// address as REGISTRY and the byte counts as <bytes>, and sorts the
// deletes of one order (tagged, then children, then attachments) by
// name: digests are made anew by every run, names are not.
func normalizePlan(plan, host string, f *pruneFixture) string {
	short := map[string]string{}
	for d, n := range f.names {
		short[d.Algorithm+":"+d.Hex[:12]] = "<" + n + ">"
	}
	plan = regexp.MustCompile(`sha256:[0-9a-f]{12}`).ReplaceAllStringFunc(plan, func(s string) string {
		if n, ok := short[s]; ok {
			return n
		}
		return s
	})
	plan = regexp.MustCompile(`\[sha256-[0-9a-f]{64}\.(sig|att)\]`).ReplaceAllString(plan, "[.$1]")
	plan = regexp.MustCompile(`\d+(\.\d)? ([KMG]i)?B\b`).ReplaceAllString(plan, "<bytes>")
	plan = strings.ReplaceAll(plan, host, "REGISTRY")
	lines := strings.Split(plan, "\n")
	kind := regexp.MustCompile(`^\s+would delete <[^>]*> (\w+)`)
	rank := func(l string) int {
		m := kind.FindStringSubmatch(l)
		if m == nil {
			return -1
		}
		switch m[1] {
		case "tagged", "untagged":
			return 0
		case "child":
			return 1
		}
		return 2
	}
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && rank(lines[j]) >= 0 && rank(lines[j]) == rank(lines[i]) {
			j++
		}
		if j == i {
			i++
			continue
		}
		slices.Sort(lines[i:j])
		i = j
	}
	return strings.Join(lines, "\n")
}

// slipway prune on the real registry: a repository of twelve versions,
// pr-* tags of several ages, multi-arch indexes sharing platform images
// and an untagged index, all signed. The dry run prints the plan (the
// golden file) and deletes nothing; --yes deletes what the policy does
// not keep, with its signatures and attestations, and the registry's
// garbage collector then removes their blobs; every kept tag still pulls
// whole and verifies. A run killed part-way, run again, ends where an
// unbroken one does.
func TestPrune(t *testing.T) {
	reg := testenv.StartCollectedRegistry(t)
	priv, pub := keyPair(t, t.TempDir(), "")
	now := time.Now().UTC().Truncate(time.Second)
	f := fillPruneRepo(t, reg.Addr+"/acme/app", priv, now)
	before := pruneState(t, f)
	policy := prunePolicy(t, reg.Addr)
	dir := t.TempDir()

	r := slipway(t, dir, nil, "prune", "--policy", policy)
	if r.code != 0 {
		t.Fatalf("slipway prune --policy (a dry run): exit %d\n%s", r.code, r.stderr)
	}
	golden(t, "prune/plan.txt", normalizePlan(r.stdout, reg.Addr, f))
	if got := pruneState(t, f); got != before {
		t.Fatalf("the dry run changed the repository:\n%s\nwas:\n%s", got, before)
	}
	r = slipway(t, dir, nil, "prune", "--policy", policy, "--output", "json")
	var plan prune.Plan
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || r.code != 0 {
		t.Fatalf("prune --output json: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	if len(plan.Repositories) != 1 || plan.Bytes <= 0 || plan.Bytes != plan.Repositories[0].Bytes {
		t.Errorf("plan: %d repositories, %d bytes; want one, its bytes the total", len(plan.Repositories), plan.Bytes)
	}

	// The layers only deleted images hold are in the registry until its
	// garbage collector runs after the deletes.
	blob := func(n string) int {
		resp, err := http.Head(fmt.Sprintf("http://%s/v2/acme/app/blobs/%s", reg.Addr, f.layers[n]))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if blob("v1.0.0") != http.StatusOK {
		t.Fatal("the layer of v1.0.0 is not in the registry before prune")
	}
	r = slipway(t, dir, nil, "prune", "--policy", policy, "--yes")
	if r.code != 0 {
		t.Fatalf("slipway prune --yes: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "deleted") || strings.Contains(r.stdout, "would delete") {
		t.Errorf("prune --yes output:\n%s", r.stdout)
	}
	// The order of the deletes: tagged (and untagged roots), then
	// children, then attachments.
	var order []string
	for _, m := range regexp.MustCompile(`prune: deleted \S+@\S+ \((\w+)\)`).FindAllStringSubmatch(r.stderr, -1) {
		order = append(order, m[1])
	}
	rankOf := map[string]int{"tagged": 0, "untagged": 0, "child": 1, "signature": 2, "attestation": 2, "referrer": 2}
	if len(order) != 27 || !slices.IsSortedFunc(order, func(a, b string) int { return rankOf[a] - rankOf[b] }) {
		t.Errorf("deleted in the order %v; want 27 deletes, what was tagged first, then children, then attachments", order)
	}
	reg.GarbageCollect(t)
	for _, n := range []string{"v1.0.0", "pr-1", "pr-2 arm64", "main before amd64"} {
		if code := blob(n); code != http.StatusNotFound {
			t.Errorf("after the garbage collector, the layer of %s answers %d; want 404", n, code)
		}
	}
	checkPruned(t, f, pub)
	want := pruneState(t, f)
	if _, err := os.Stat(filepath.Join(dir, ".slipway", "prune-journal.json")); err == nil {
		t.Error("the journal is left after a run that ended")
	}

	// Killed at its fifth delete, run again: the same end.
	proxy := &killingProxy{upstream: reg.Addr, killAt: 5}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	g := fillPruneRepo(t, host+"/acme/again", priv, now)
	policy = prunePolicy(t, host)
	dir = t.TempDir()
	cmd := slipwayCmd(t, dir, nil, "prune", "--policy", policy, "--yes")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proxy.set(cmd.Process)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Success() || proxy.deletes() != 5 {
		t.Fatalf("the killed run: %v after %d deletes; want it killed at the fifth\n%s", err, proxy.deletes(), out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, ".slipway", "prune-journal.json")); err != nil {
		t.Errorf("no journal after a killed run: %v", err)
	}
	if mid := pruneState(t, g); mid == want {
		t.Error("the killed run did everything")
	}
	proxy.set(nil)
	r = slipway(t, dir, nil, "prune", "--policy", policy, "--yes")
	if r.code != 0 {
		t.Fatalf("prune after the kill: exit %d\n%s", r.code, r.stderr)
	}
	checkPruned(t, g, pub)
	if got := pruneState(t, g); got != want {
		t.Errorf("after a kill and a re-run:\n%s\nwant (an unbroken run's):\n%s", got, want)
	}

	// Bad input: exit 2, one line naming the input, nothing deleted.
	for args, input := range map[string]string{
		"": "policy",
		"--repository " + host + "/acme/again --keep-within 3x": "keep-within",
		"--policy " + policy + " --keep-last 2":                 "policy",
		"--policy " + policy + " --yes --dry-run":               "yes",
		"--policy /nonexistent.yaml":                            "policy",
	} {
		r := slipway(t, dir, nil, append([]string{"prune"}, strings.Fields(args)...)...)
		if r.code != 2 || !strings.Contains(lastLine(r.stderr), input) {
			t.Errorf("prune %s: exit %d, want 2 naming %s:\n%s", args, r.code, input, r.stderr)
		}
	}
	if got := pruneState(t, g); got != want {
		t.Errorf("bad input changed the repository")
	}
}

// killingProxy passes requests to a registry and kills a process at its
// killAt-th DELETE (answering it 503, unforwarded).
type killingProxy struct {
	upstream string
	killAt   int
	mu       sync.Mutex
	n        int
	proc     *os.Process
}

func (p *killingProxy) set(proc *os.Process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proc, p.n = proc, 0
}

func (p *killingProxy) deletes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *killingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete {
		p.mu.Lock()
		p.n++
		kill := p.proc != nil && p.n == p.killAt
		if kill {
			_ = p.proc.Kill()
		}
		p.mu.Unlock()
		if kill {
			http.Error(w, "killed", http.StatusServiceUnavailable)
			return
		}
	}
	httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: p.upstream}).ServeHTTP(w, r)
}
