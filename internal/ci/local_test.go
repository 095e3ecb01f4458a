package ci

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/environ"
	"github.com/slipway-ci/slipway/internal/errs"
)

// commitDate is the committer date of every test commit.
var commitDate = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// isolateGit keeps the user's and the system's git configuration away
// from the git the provider runs.
func isolateGit(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
}

// runGit runs git in dir, with a fixed identity and dates, and returns its
// trimmed output.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	args = append([]string{"-c", "user.name=Slipway Test", "-c", "user.email=test@example.com",
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	date := commitDate.Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newGitRepo returns a repository in a temporary directory with one commit
// on main.
func newGitRepo(t *testing.T) string {
	t.Helper()
	isolateGit(t)
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "-b", "main")
	runGit(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	return dir
}

// localContext reads the local context of dir.
func localContext(t *testing.T, dir string) (*Context, error) {
	t.Helper()
	p, err := New(NameLocal, Options{ContextDir: dir, Env: environ.Map(map[string]string{"USER": "dev"})})
	if err != nil {
		t.Fatal(err)
	}
	return p.Context(context.Background(), func(w string) { t.Errorf("unexpected warning: %s", w) })
}

func TestLocalContext(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  func(sha, dir string) Context
	}{
		{
			name:  "branch",
			setup: func(*testing.T, string) {},
			want: func(sha, dir string) Context {
				return Context{
					Event: EventBranchPush, EventName: "push", Ref: "refs/heads/main", Branch: "main",
					Repository: Repository{Name: filepath.Base(dir), DefaultBranch: "main"},
				}
			},
		},
		{
			name: "several tags: the highest semantic version",
			setup: func(t *testing.T, dir string) {
				for _, tag := range []string{"latest", "v1.2.0", "v1.10.0-rc.1", "v1.10.0", "v1.9.9"} {
					runGit(t, dir, "tag", tag)
				}
			},
			want: func(sha, dir string) Context {
				return Context{
					Event: EventTagPush, EventName: "push", Ref: "refs/tags/v1.10.0", Tag: "v1.10.0", BaseRef: "main",
					Repository: Repository{Name: filepath.Base(dir), DefaultBranch: "main"},
				}
			},
		},
		{
			name: "a pre-release ranks below its release",
			setup: func(t *testing.T, dir string) {
				runGit(t, dir, "tag", "v2.0.0")
				runGit(t, dir, "tag", "v2.0.0-rc.2")
			},
			want: func(sha, dir string) Context {
				return Context{
					Event: EventTagPush, EventName: "push", Ref: "refs/tags/v2.0.0", Tag: "v2.0.0", BaseRef: "main",
					Repository: Repository{Name: filepath.Base(dir), DefaultBranch: "main"},
				}
			},
		},
		{
			name: "feature branch with an origin",
			setup: func(t *testing.T, dir string) {
				runGit(t, dir, "tag", "v0.1.0")
				runGit(t, dir, "checkout", "-q", "-b", "feature/x")
				runGit(t, dir, "commit", "-q", "--allow-empty", "-m", "second")
				runGit(t, dir, "remote", "add", "origin", "git@github.com:acme/widget.git")
				runGit(t, dir, "update-ref", "refs/remotes/origin/trunk", "HEAD")
				runGit(t, dir, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
			},
			want: func(sha, dir string) Context {
				return Context{
					Event: EventBranchPush, EventName: "push", Ref: "refs/heads/feature/x", Branch: "feature/x",
					Repository: Repository{Name: "acme/widget", URL: "https://github.com/acme/widget", DefaultBranch: "trunk"},
				}
			},
		},
		{
			name: "detached HEAD",
			setup: func(t *testing.T, dir string) {
				runGit(t, dir, "tag", "v0.1.0")
				runGit(t, dir, "commit", "-q", "--allow-empty", "-m", "second")
				runGit(t, dir, "checkout", "-q", "--detach", "HEAD")
			},
			want: func(sha, dir string) Context {
				return Context{
					Event: EventManual, EventName: "workflow_dispatch", Ref: sha,
					Repository: Repository{Name: filepath.Base(dir)},
				}
			},
		},
		{
			name: "detached HEAD on a tag",
			setup: func(t *testing.T, dir string) {
				runGit(t, dir, "tag", "v0.1.0")
				runGit(t, dir, "checkout", "-q", "v0.1.0")
			},
			want: func(sha, dir string) Context {
				return Context{
					Event: EventTagPush, EventName: "push", Ref: "refs/tags/v0.1.0", Tag: "v0.1.0",
					Repository: Repository{Name: filepath.Base(dir)},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newGitRepo(t)
			tt.setup(t, dir)
			sha := runGit(t, dir, "rev-parse", "HEAD")
			// Read from a subdirectory: the build context need not be the root.
			sub := filepath.Join(dir, "docker")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			got, err := localContext(t, sub)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want(sha, dir)
			want.Provider, want.SHA, want.CommitDate, want.Actor = NameLocal, sha, commitDate, "dev"
			assertContext(t, got, &want)
		})
	}
}

// A checkout another user owns (a CI workspace mounted into slipway's
// container, which runs as root) is read as any other, from a directory
// inside it too: git would refuse it otherwise ("dubious ownership").
func TestLocalContextOfAnotherUsersCheckout(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test gives the checkout to another user: run it as root (make test does)")
	}
	dir := newGitRepo(t)
	sha := runGit(t, dir, "rev-parse", "HEAD")
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 1000, 1000)
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").CombinedOutput(); err == nil || !strings.Contains(string(out), "dubious ownership") {
		t.Fatalf("git reads another user's checkout without safe.directory (%v): %s; the test shows nothing", err, out)
	}
	for _, d := range []string{dir, filepath.Join(dir, "app")} {
		c, err := localContext(t, d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if c.SHA != sha || c.Branch != "main" {
			t.Errorf("%s: SHA %s, branch %q; want %s on main", d, c.SHA, c.Branch, sha)
		}
	}
}

func TestLocalContextNotARepository(t *testing.T) {
	isolateGit(t)
	t.Setenv("GIT_CEILING_DIRECTORIES", os.TempDir()) // in case the temp dir lies inside a checkout
	for name, dir := range map[string]string{
		"plain directory":   t.TempDir(),
		"missing directory": filepath.Join(t.TempDir(), "nope"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := localContext(t, dir)
			var ie *errs.InputError
			if !errors.As(err, &ie) || ie.Input != "context" {
				t.Fatalf("err = %v, want an *errs.InputError for input context", err)
			}
			assertContains(t, err.Error(), "not a git repository (run slipway inside a git checkout or set --ci)")
		})
	}
}

// A run that needs no checkout (slipway promote) outside one gets a
// manual event without a commit, named after its directory.
func TestLocalContextNoCheckout(t *testing.T) {
	isolateGit(t)
	t.Setenv("GIT_CEILING_DIRECTORIES", os.TempDir())
	dir := filepath.Join(t.TempDir(), "promotions")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := New(NameLocal, Options{ContextDir: dir, Env: environ.Map(map[string]string{"USER": "ops"}), OutputDir: t.TempDir(), NoCheckout: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := c.Context(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Event != EventManual || ctx.SHA != "" || ctx.Repository.Name != "promotions" || ctx.Actor != "ops" {
		t.Errorf("context %+v, want a manual event without a commit in promotions by ops", ctx)
	}
}

func TestLocalContextNoCommits(t *testing.T) {
	isolateGit(t)
	dir := t.TempDir()
	runGit(t, dir, "init", "-q")
	_, err := localContext(t, dir)
	var ie *errs.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *errs.InputError", err)
	}
	assertContains(t, err.Error(), "has no commits yet")
}

func TestCompareTagsOrder(t *testing.T) {
	// Ascending; the semver part follows the example in semver.org §11.
	ordered := []string{
		"1.2", // not a semantic version
		"latest",
		"nightly",
		"v01.2.3", // not a semantic version (a leading zero)
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"v1.0.0+build.5", // equal precedence to 1.0.0, after it in string order
		"v1.0.1",
		"1.2.0",
		"v1.2.3-rc.1",
		"v1.2.3",
		"v1.10.0",
		"v10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			if got, want := compareTags(ordered[i], ordered[j]), cmp.Compare(i, j); got != want {
				t.Errorf("compareTags(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	shuffled := slices.Clone(ordered)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := highestTag(shuffled); got != "v10.0.0" {
		t.Errorf("highestTag = %q, want v10.0.0", got)
	}
}

func TestHighestTagEmpty(t *testing.T) {
	if got := highestTag(nil); got != "" {
		t.Errorf("highestTag(nil) = %q", got)
	}
}
