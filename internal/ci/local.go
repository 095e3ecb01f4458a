package ci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/semver"
)

// localProvider reads the context of a run outside CI from the git
// checkout at the context directory, running the git CLI there:
//
//   - a tag on HEAD makes the run a tag push of it (the highest semantic
//     version when several point at HEAD);
//   - else a checked-out branch makes it a push of that branch;
//   - else (a detached HEAD with no tag) the run is manual, EventName
//     "workflow_dispatch", and Ref is the commit SHA itself: a ref git
//     resolves, which no branch, tag or pull request rule matches.
type localProvider struct {
	env Env
	dir string
	// top is the work tree holding dir, found on the file system (""
	// outside one): git's queries trust it (see git).
	top string
	out *fileOutputs
	// noCheckout: a run that needs no commit (slipway promote) outside a
	// git repository gets a manual event without one.
	noCheckout bool
}

func newLocal(opts Options) *localProvider {
	return &localProvider{env: opts.Env, dir: opts.ContextDir, top: workTree(opts.ContextDir), out: newFileOutputs(opts.OutputDir), noCheckout: opts.NoCheckout}
}

// Name implements Provider.
func (*localProvider) Name() string { return NameLocal }

// Detected implements Provider. It is always true: the local provider
// works wherever there is a git checkout, so Detect tries it last.
func (*localProvider) Detected() bool { return true }

// Outputs implements Provider: a dotenv file and a Markdown summary under
// the output directory.
func (p *localProvider) Outputs() Outputs { return p.out }

// Context implements Provider. A context directory outside a git work
// tree is an *errs.InputError for input "context".
func (p *localProvider) Context(ctx context.Context, warn func(string)) (*Context, error) {
	if warn == nil {
		warn = nopWarn
	}
	// Every query runs at once: a run's start waits for one git process,
	// not several in a row. Their errors are looked at in order: not a
	// repository, then no commit, then the rest.
	var top, sha, tags, branch, date, origin, originHead string
	type query struct {
		dst      *string
		what     string
		optional bool
		args     []string
		err      error
	}
	queries := []*query{
		{&top, "", false, []string{"rev-parse", "--show-toplevel"}, nil},
		{&sha, "reading HEAD in " + p.dir, true, []string{"rev-parse", "--verify", "-q", "HEAD"}, nil},
		{&tags, "listing the tags on HEAD", false, []string{"tag", "--points-at", "HEAD"}, nil},
		{&branch, "reading the current branch", true, []string{"symbolic-ref", "--short", "-q", "HEAD"}, nil},
		{&date, "reading the commit date of HEAD", false, []string{"show", "-s", "--no-show-signature", "--format=%cI", "HEAD"}, nil},
		{&origin, "reading the origin remote", true, []string{"config", "--get", "remote.origin.url"}, nil},
		{&originHead, "reading origin/HEAD", true, []string{"symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"}, nil},
	}
	var wg sync.WaitGroup
	for _, q := range queries {
		wg.Go(func() {
			run := p.git
			if q.optional {
				run = p.gitOptional
			}
			*q.dst, q.err = run(ctx, q.args...)
		})
	}
	wg.Wait()
	if err := queries[0].err; err != nil {
		var exitErr *exec.ExitError
		if p.noCheckout && errors.As(err, &exitErr) {
			dir, _ := filepath.Abs(p.dir)
			return &Context{
				Provider: NameLocal, Event: EventManual, EventName: "workflow_dispatch",
				Actor:      firstNonEmpty(p.env.Get("USER"), p.env.Get("USERNAME")),
				Repository: Repository{Name: filepath.Base(dir)},
			}, nil
		}
		return nil, p.notARepository(err)
	}
	if err := queries[1].err; err != nil {
		return nil, fmt.Errorf("%s: %w", queries[1].what, err)
	}
	if sha == "" {
		return nil, errs.Input("context", "the git repository %s has no commits yet", top)
	}
	for _, q := range queries[2:] {
		if q.err != nil {
			return nil, fmt.Errorf("%s: %w", q.what, q.err)
		}
	}
	c := &Context{
		Provider:   NameLocal,
		SHA:        sha,
		CommitDate: commitTime("the commit date of HEAD", date, warn),
		Actor:      firstNonEmpty(p.env.Get("USER"), p.env.Get("USERNAME")),
	}
	classifyLocal(c, strings.Fields(tags), branch)
	c.Repository = localRepository(top, branch, origin, originHead)
	return c, nil
}

// classifyLocal sets the event and ref fields of c from the tags on HEAD
// and the current branch ("" when HEAD is detached).
func classifyLocal(c *Context, tags []string, branch string) {
	c.EventName = "push"
	switch tag := highestTag(tags); {
	case tag != "":
		c.Event, c.Tag, c.Ref = EventTagPush, tag, tagRef(tag)
		c.BaseRef = branch // the branch the tag is on, as a push payload's base_ref
	case branch != "":
		c.Event, c.Branch, c.Ref = EventBranchPush, branch, branchRef(branch)
	default:
		c.Event, c.EventName, c.Ref = EventManual, "workflow_dispatch", c.SHA
	}
}

// compareTags orders tag names: semantic versions (as node-semver parses
// them strictly: "v1.2.3" and "1.2.3-rc.1" are, "1.2" and "v01.2.3" are
// not) by precedence and above every other name; equal precedence, and
// two other names, in string order.
func compareTags(a, b string) int {
	sa, aerr := semver.Parse(a, false)
	sb, berr := semver.Parse(b, false)
	switch {
	case aerr == nil && berr == nil:
		if c := semver.Compare(sa, sb); c != 0 {
			return c
		}
	case aerr == nil:
		return 1
	case berr == nil:
		return -1
	}
	return strings.Compare(a, b)
}

// highestTag returns the greatest of tags by compareTags, "" for none.
func highestTag(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return slices.MaxFunc(tags, compareTags)
}

// localRepository describes the checkout at top: named after the origin
// remote (or the directory without one), with the default branch
// origin/HEAD names, else the current branch when it is main or master.
func localRepository(top, branch, origin, originHead string) Repository {
	var repo Repository
	repo.Name, repo.URL = parseGitRemote(origin)
	if repo.Name == "" {
		repo.Name = filepath.Base(top)
	}
	repo.DefaultBranch = strings.TrimPrefix(originHead, "origin/")
	if repo.DefaultBranch == "" && (branch == "main" || branch == "master") {
		repo.DefaultBranch = branch
	}
	return repo
}

// notARepository turns the failure of git in the context directory into
// the error to report: an *errs.InputError, unless git itself is missing.
func (p *localProvider) notARepository(err error) error {
	var exitErr *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("reading the local git context: %w", err)
	case errors.As(err, &exitErr):
		return errs.Input("context", "%s is not a git repository (run slipway inside a git checkout or set --ci)", p.dir)
	}
	return errs.WrapInput("context", err, "%s is not a git repository (run slipway inside a git checkout or set --ci)", p.dir)
}

// git runs git with args in the context directory (no shell) and returns
// its trimmed standard output. A failure carries git's standard error.
//
// The checkout is trusted whoever owns it (safe.directory, for this
// command only): in a container, a CI's workspace is often another
// user's, and git refuses such a repository ("dubious ownership"). The
// queries are read-only and run nothing the repository configures (no
// hooks, no fsmonitor: nothing reads the work tree's index).
func (p *localProvider) git(ctx context.Context, args ...string) (string, error) {
	if p.top != "" {
		args = append([]string{"-c", "safe.directory=" + p.top}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = p.dir
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitOptional is git for queries that exit with status 1 when there is
// nothing to report (config --get, symbolic-ref -q, rev-parse --verify -q):
// that yields "" and no error.
func (p *localProvider) gitOptional(ctx context.Context, args ...string) (string, error) {
	out, err := p.git(ctx, args...)
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 1 {
		return "", nil
	}
	return out, err
}

// workTree returns the top of the git work tree holding dir, found on the
// file system (the nearest directory up with a .git entry) without asking
// git, which refuses another user's repository; "" when there is none.
func workTree(dir string) string {
	d, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(d); err == nil {
		d = real
	}
	for {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}
