package ship

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// releaseCheckout is a clone of a bare origin whose tag holds this tree's
// action.yml, checked out at the tag, as actions/checkout leaves a tag push.
func releaseCheckout(t *testing.T, tag string) (checkout, origin string) {
	t.Helper()
	root := testenv.RepoRoot(t)
	origin = filepath.Join(t.TempDir(), "origin.git")
	testenv.Git(t, filepath.Dir(origin), "init", "-q", "--bare", origin)
	src := t.TempDir()
	testenv.Git(t, src, "init", "-q", "-b", "main")
	for _, f := range []string{"action.yml", "hack/release.sh"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(src, f), data)
	}
	if err := os.Chmod(filepath.Join(src, "hack/release.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, src, "add", ".")
	testenv.Git(t, src, "commit", "-q", "-m", "work")
	testenv.Git(t, src, "tag", "-a", tag, "-m", tag)
	testenv.Git(t, src, "remote", "add", "origin", origin)
	testenv.Git(t, src, "push", "-q", "origin", "main", "refs/tags/"+tag)
	checkout = t.TempDir()
	testenv.Git(t, checkout, "clone", "-q", origin, ".")
	testenv.Git(t, checkout, "checkout", "-q", "refs/tags/"+tag)
	return checkout, origin
}

func release(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "hack/release.sh"), args...)
	cmd.Dir, cmd.Env = dir, testenv.GitEnv()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

const pinnedImage = "ghcr.io/slipway-ci/slipway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// The release commit changes action.yml's runs.image, and nothing else,
// to the image by digest; the tag and the major tag move to it, in origin;
// a second run adds nothing. The pinned action.yml is still a valid action
// for action-validator.
func TestReleasePinsTheAction(t *testing.T) {
	dir, origin := releaseCheckout(t, "v1.4.2")
	tagged := testenv.Git(t, dir, "rev-parse", "HEAD")
	out, code := release(t, dir, "v1.4.2", pinnedImage)
	if code != 0 {
		t.Fatalf("release.sh: exit %d\n%s", code, out)
	}
	commit := testenv.Git(t, origin, "rev-parse", "refs/tags/v1.4.2^{commit}")
	if !strings.Contains(out, commit) {
		t.Errorf("release.sh did not print the release commit %s:\n%s", commit, out)
	}
	if major := testenv.Git(t, origin, "rev-parse", "refs/tags/v1^{commit}"); major != commit {
		t.Errorf("v1 is %s, v1.4.2 %s", major, commit)
	}
	if parent := testenv.Git(t, origin, "rev-parse", commit+"^"); parent != tagged {
		t.Errorf("the release commit's parent is %s, want the tagged commit %s", parent, tagged)
	}
	if files := testenv.Git(t, origin, "diff", "--name-only", tagged, commit); files != "action.yml" {
		t.Errorf("the release commit changes %q, want action.yml only", files)
	}
	diff := testenv.Git(t, origin, "diff", "-U0", tagged, commit, "--", "action.yml")
	var changed []string
	for _, l := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			changed = append(changed, l)
		}
	}
	if len(changed) != 2 || changed[0] != "-  image: Dockerfile" || changed[1] != "+  image: docker://"+pinnedImage {
		t.Errorf("action.yml lines changed: %q", changed)
	}
	var action struct {
		Runs struct{ Using, Image string } `yaml:"runs"`
	}
	pinned := testenv.Git(t, origin, "show", commit+":action.yml")
	if err := yaml.Unmarshal([]byte(pinned), &action); err != nil {
		t.Fatal(err)
	}
	if action.Runs.Using != "docker" || action.Runs.Image != "docker://"+pinnedImage {
		t.Errorf("runs = %+v", action.Runs)
	}
	vdir := t.TempDir()
	write(t, filepath.Join(vdir, "action.yml"), []byte(pinned+"\n"))
	if out, code := run(t, vdir, testenv.NodeTool(t, "action-validator"), "action.yml"); code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("action-validator on the pinned action.yml: exit %d\n%s", code, out)
	}

	// Again, at the release commit: nothing new.
	testenv.Git(t, dir, "fetch", "-q", "--force", "origin", "refs/tags/*:refs/tags/*")
	testenv.Git(t, dir, "checkout", "-q", "refs/tags/v1.4.2")
	if out, code := release(t, dir, "v1.4.2", pinnedImage); code != 0 || !strings.Contains(out, "already pins") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	if again := testenv.Git(t, origin, "rev-parse", "refs/tags/v1.4.2^{commit}"); again != commit {
		t.Errorf("second run moved v1.4.2 to %s", again)
	}
}

// A pre-release pins its own tag and leaves the major tag alone.
func TestReleasePrereleaseKeepsTheMajorTag(t *testing.T) {
	dir, origin := releaseCheckout(t, "v2.0.0-rc.1")
	if out, code := release(t, dir, "v2.0.0-rc.1", pinnedImage); code != 0 {
		t.Fatalf("release.sh: exit %d\n%s", code, out)
	}
	if tags := testenv.Git(t, origin, "tag", "--list", "v2"); tags != "" {
		t.Error("a pre-release created v2")
	}
	if !strings.Contains(testenv.Git(t, origin, "show", "refs/tags/v2.0.0-rc.1:action.yml"), "image: docker://"+pinnedImage) {
		t.Error("v2.0.0-rc.1 does not pin the image")
	}
}

// Bad arguments, or a checkout that is not the tag: exit 2, one line naming
// what is wrong, nothing pushed.
func TestReleaseRefuses(t *testing.T) {
	dir, origin := releaseCheckout(t, "v1.0.0")
	before := testenv.Git(t, origin, "show-ref")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"1.0.0", pinnedImage}, "TAG 1.0.0"},
		{[]string{"v1.0", pinnedImage}, "TAG v1.0"},
		{[]string{"v1.0.0", "ghcr.io/slipway-ci/slipway:v1.0.0"}, "want repository@sha256"},
		{[]string{"v1.0.0", "ghcr.io/slipway-ci/slipway@sha256:abc"}, "want repository@sha256"},
		{[]string{"v1.0.0"}, "usage"},
		{[]string{"v9.9.9", pinnedImage}, "HEAD is not the tag v9.9.9"},
	} {
		out, code := release(t, dir, c.args...)
		if code != 2 || !strings.Contains(out, c.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("release.sh %q: exit %d, want 2 and one line with %q:\n%s", c.args, code, c.want, out)
		}
	}
	if after := testenv.Git(t, origin, "show-ref"); after != before {
		t.Errorf("origin changed:\n%s\nwas:\n%s", after, before)
	}
}
