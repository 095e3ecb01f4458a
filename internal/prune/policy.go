// Package prune applies a retention policy to registry repositories,
// Harbor's model: rules select repositories and tags and say which of
// those tags to keep; in a repository a rule covers, a tag no rule keeps
// is deleted, and so is every digest it reaches that no kept tag reaches
// (platform manifests, attestation manifests, signatures, attestations,
// referrers). A digest a kept tag reaches is never deleted, whatever the
// registry lists.
package prune

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/semver"
)

// Order is how a rule ranks the tags it keeps the most recent of.
type Order string

const (
	// BySemver ranks by semantic version, highest first; tags that are no
	// version are not kept by the rule's "last".
	BySemver Order = "semver"
	// ByPushed ranks by when the image was pushed, newest first. The
	// distribution API keeps no push time: it is the image's creation
	// time (the org.opencontainers.image.created annotation slipway
	// writes, else the config's created).
	ByPushed Order = "pushed"
)

// Policy is a retention policy: its rules, any of which keeps a tag.
type Policy struct {
	Rules []Rule `yaml:"rules" json:"rules"`
}

// Rule keeps, in the repositories it matches, of the tags it selects,
// the Last most recent by Order and those pushed Within the duration.
// A rule with neither keeps every tag it selects.
type Rule struct {
	// Repositories are patterns on the repository's full name
	// (host/path), path.Match syntax: "*" does not cross a "/".
	Repositories []string `yaml:"repositories" json:"repositories"`
	// Include are tag patterns the rule selects ("*" by default);
	// Exclude are tag patterns it does not, whatever Include says.
	Include []string `yaml:"include,omitempty" json:"include,omitempty"`
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// Last keeps the N most recent selected tags (0: none by count).
	Last  int   `yaml:"last,omitempty" json:"last,omitempty"`
	Order Order `yaml:"order,omitempty" json:"order,omitempty"`
	// Within keeps the selected tags pushed within this long ("30d",
	// "12h"); zero: none by age.
	Within Duration `yaml:"within,omitempty" json:"within,omitempty"`
}

// Duration is a time.Duration written with an optional day unit ("30d",
// "1d12h").
type Duration time.Duration

// ParseDuration reads s as Go's time.ParseDuration does, plus whole days
// ("7d") in front.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var days int
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (expected e.g. 30d, 12h or 1d12h)", s)
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return 0, fmt.Errorf("invalid duration %q (expected e.g. 30d, 12h or 1d12h)", s)
		}
	}
	return Duration(time.Duration(days)*24*time.Hour + d), nil
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// String writes whole days as "Nd", other durations as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// MarshalText writes String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ReadPolicy parses a policy file's YAML; an error names the policy input
// and the rule.
func ReadPolicy(data []byte) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, errs.Input("policy", "reading the policy: %v", err)
	}
	return &p, p.Validate()
}

// Validate checks every rule; an error names the policy input and the
// rule.
func (p *Policy) Validate() error {
	if len(p.Rules) == 0 {
		return errs.Input("policy", "no rules (expected rules: with repositories and what to keep)")
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		if len(r.Include) == 0 {
			r.Include = []string{"*"}
		}
		if r.Order == "" {
			r.Order = BySemver
		}
		if err := r.validate(); err != nil {
			return errs.Input("policy", "rule %d: %v", i+1, err)
		}
	}
	return nil
}

func (r *Rule) validate() error {
	if len(r.Repositories) == 0 {
		return errors.New("no repositories (expected patterns such as registry.example.com/team/*)")
	}
	for _, pats := range [][]string{r.Repositories, r.Include, r.Exclude} {
		for _, p := range pats {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", p, err)
			}
		}
	}
	if r.Last < 0 {
		return fmt.Errorf("last %d (expected a count of tags to keep, 0 or more)", r.Last)
	}
	if r.Order != BySemver && r.Order != ByPushed {
		return fmt.Errorf("order %q (expected semver or pushed)", r.Order)
	}
	return nil
}

// Covers says the rule applies to the repository named repo (host/path).
func (r *Rule) Covers(repo string) bool { return matchAny(r.Repositories, repo) }

// Selects says the rule applies to tag.
func (r *Rule) Selects(tag string) bool {
	return matchAny(r.Include, tag) && !matchAny(r.Exclude, tag)
}

// describe names the rule, i its place in the policy, for the plan:
// "rule 2 (v*: last 3 by semver)".
func (r *Rule) describe(i int) string {
	var keep []string
	if r.Last > 0 {
		keep = append(keep, fmt.Sprintf("last %d by %s", r.Last, r.Order))
	}
	if r.Within > 0 {
		keep = append(keep, "pushed within "+r.Within.String())
	}
	if len(keep) == 0 {
		keep = []string{"always"}
	}
	sel := strings.Join(r.Include, ",")
	if len(r.Exclude) > 0 {
		sel += " but " + strings.Join(r.Exclude, ",")
	}
	return fmt.Sprintf("rule %d (%s: %s)", i+1, sel, strings.Join(keep, ", "))
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// semverOf parses a tag as a version (loose: a "v" in front is fine), or
// nil.
func semverOf(tag string) *semver.Version {
	v, err := semver.Parse(tag, true)
	if err != nil {
		return nil
	}
	return v
}
