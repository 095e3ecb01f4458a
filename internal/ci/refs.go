package ci

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ref prefixes in GitHub's form.
const (
	headsPrefix = "refs/heads/"
	tagsPrefix  = "refs/tags/"
	pullPrefix  = "refs/pull/"
)

// branchRef returns refs/heads/<branch>, or "" for an empty branch.
func branchRef(branch string) string {
	if branch == "" {
		return ""
	}
	return headsPrefix + branch
}

// tagRef returns refs/tags/<tag>, or "" for an empty tag.
func tagRef(tag string) string {
	if tag == "" {
		return ""
	}
	return tagsPrefix + tag
}

// pullRef returns refs/pull/<n>/merge.
func pullRef(n int) string { return fmt.Sprintf("%s%d/merge", pullPrefix, n) }

// pullNumber returns n from refs/pull/<n>/merge (or /head), 0 otherwise.
func pullNumber(ref string) int {
	rest, ok := strings.CutPrefix(ref, pullPrefix)
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// envInt reads key from env as a non-negative integer; unset or empty is 0.
func envInt(env Env, key string) (int, error) {
	v := strings.TrimSpace(env.Get(key))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("reading %s: %q is not a non-negative integer", key, v)
	}
	return n, nil
}

// commitTime parses an RFC 3339 commit date read from source (a variable
// name or payload field). An empty value is the zero time; an invalid one
// is reported through warn and also yields the zero time, since the date
// only decorates labels.
func commitTime(source, value string, warn func(string)) time.Time {
	if value == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		warn(fmt.Sprintf("ignoring %s %q: not an RFC 3339 time", source, value))
		return time.Time{}
	}
	return t
}

// nopWarn discards warnings; it stands in for a nil warn callback.
func nopWarn(string) {}

// eventFromRef classifies a run by its ref alone: a tag is a tag push, a
// pull ref a pull request, anything else a branch push.
func eventFromRef(ref string) Event {
	switch {
	case strings.HasPrefix(ref, tagsPrefix):
		return EventTagPush
	case strings.HasPrefix(ref, pullPrefix):
		return EventPullRequest
	}
	return EventBranchPush
}

// setRefNames sets c.Branch or c.Tag from c.Ref.
func setRefNames(c *Context) {
	if b, ok := strings.CutPrefix(c.Ref, headsPrefix); ok {
		c.Branch = b
	} else if t, ok := strings.CutPrefix(c.Ref, tagsPrefix); ok {
		c.Tag = t
	}
}

// mergeRepository returns base with every field that over sets replaced.
func mergeRepository(base, over Repository) Repository {
	base.Name = firstNonEmpty(over.Name, base.Name)
	base.URL = firstNonEmpty(over.URL, base.URL)
	base.Description = firstNonEmpty(over.Description, base.Description)
	base.License = firstNonEmpty(over.License, base.License)
	base.DefaultBranch = firstNonEmpty(over.DefaultBranch, base.DefaultBranch)
	return base
}

// firstNonEmpty returns the first non-empty string of vs.
func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// firstNonZero returns the first non-zero int of ns.
func firstNonZero(ns ...int) int {
	for _, n := range ns {
		if n != 0 {
			return n
		}
	}
	return 0
}
