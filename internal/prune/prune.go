package prune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-ci/slipway/internal/errs"
	"github.com/slipway-ci/slipway/internal/units"
)

// Options are a prune run's.
type Options struct {
	Policy   *Policy
	Registry Registry
	// Now is the time "within" counts back from.
	Now func() time.Time
	// Yes deletes; otherwise the plan is only made.
	Yes bool
	// Journal is the file a deleting run records its plan in until it
	// ends; the next run finishes what a killed one left.
	Journal string
	// Log receives progress.
	Log io.Writer
}

// Run plans the policy over every repository a rule covers and, with
// Yes, carries the plan out: per repository the tags, then what they
// tagged, then children, then attachments, each digest checked against
// what the kept tags reach right before its delete.
func Run(ctx context.Context, o Options) (*Plan, error) {
	repos, err := repositories(ctx, o.Policy, o.Registry)
	if err != nil {
		return nil, err
	}
	j, err := readJournal(o.Journal)
	if err != nil {
		return nil, err
	}
	now := o.Now()
	plan := &Plan{}
	for _, repo := range repos {
		s, err := o.Registry.Read(ctx, repo, j.Repositories[repo.String()])
		if err != nil {
			return nil, err
		}
		rp := PlanRepo(s, o.Policy.covering(repo.String()), now)
		plan.Repositories = append(plan.Repositories, rp)
		plan.Bytes += rp.Bytes
	}
	if !o.Yes {
		return plan, nil
	}
	for _, rp := range plan.Repositories {
		for _, d := range rp.Delete {
			if !slices.Contains(j.Repositories[rp.Repository.String()], d.Digest) {
				j.Repositories[rp.Repository.String()] = append(j.Repositories[rp.Repository.String()], d.Digest)
			}
		}
	}
	if err := j.write(o.Journal); err != nil {
		return plan, err
	}
	tagDelete := true
	for _, rp := range plan.Repositories {
		if tagDelete, err = apply(ctx, o, rp, tagDelete); err != nil {
			return plan, err
		}
	}
	if o.Journal != "" {
		if err := os.Remove(o.Journal); err != nil && !errors.Is(err, os.ErrNotExist) {
			return plan, fmt.Errorf("removing the prune journal: %w", err)
		}
	}
	return plan, nil
}

func apply(ctx context.Context, o Options, rp *RepoPlan, tagDelete bool) (bool, error) {
	repo := rp.Repository
	deleted := map[v1.Hash]bool{}
	for _, d := range rp.Delete {
		deleted[d.Digest] = true
	}
	// The tags first: no tag is left on an image half deleted. A registry
	// that deletes no tag alone deletes them with their manifest.
	for _, t := range rp.Deleted {
		if !tagDelete && deleted[rp.tags[t]] {
			continue
		}
		err := o.Registry.DeleteTag(ctx, repo.Tag(t))
		if errors.Is(err, ErrTagDelete) {
			tagDelete = false
			if deleted[rp.tags[t]] {
				continue
			}
			fmt.Fprintf(o.Log, "prune: %s:%s kept: %v, and a kept tag reaches its digest\n", repo, t, err)
			rp.Undeleted = append(rp.Undeleted, t)
			continue
		}
		if err != nil {
			return tagDelete, err
		}
		fmt.Fprintf(o.Log, "prune: deleted the tag %s:%s\n", repo, t)
	}
	for _, d := range rp.Delete {
		if rp.Keeps(d.Digest) {
			return tagDelete, fmt.Errorf("refusing to delete %s@%s: a kept tag reaches it", repo, d.Digest)
		}
		if err := o.Registry.Delete(ctx, repo.Digest(d.Digest.String())); err != nil {
			return tagDelete, err
		}
		fmt.Fprintf(o.Log, "prune: deleted %s@%s (%s)\n", repo, d.Digest, d.Kind)
	}
	return tagDelete, nil
}

// repositories are the repositories the rules name, or the catalog's
// that their patterns match, sorted.
func repositories(ctx context.Context, p *Policy, reg Registry) ([]name.Repository, error) {
	seen := map[string]name.Repository{}
	catalogs := map[string][]name.Repository{}
	for _, r := range p.Rules {
		for _, pat := range r.Repositories {
			if !strings.ContainsAny(pat, "*?[\\") {
				repo, err := name.NewRepository(pat, name.StrictValidation)
				if err != nil {
					return nil, errs.WrapInput("policy", err, "repository %q", pat)
				}
				seen[repo.String()] = repo
				continue
			}
			host, path, _ := strings.Cut(pat, "/")
			if strings.ContainsAny(host, "*?[\\") {
				return nil, errs.Input("policy", "repository %q: write the registry host out (patterns match the path)", pat)
			}
			prefix := path[:strings.IndexAny(path, "*?[\\")]
			key := host + "/" + prefix
			if _, ok := catalogs[key]; !ok {
				rg, err := name.NewRegistry(host, name.StrictValidation)
				if err != nil {
					return nil, errs.WrapInput("policy", err, "repository %q", pat)
				}
				if catalogs[key], err = reg.Repositories(ctx, rg, prefix); err != nil {
					return nil, err
				}
			}
			for _, repo := range catalogs[key] {
				if matchAny([]string{pat}, repo.String()) {
					seen[repo.String()] = repo
				}
			}
		}
	}
	var out []name.Repository
	for _, k := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, seen[k])
	}
	return out, nil
}

// journal is what a run plans to delete, written before its first
// delete and removed after its last, so that a run killed part-way is
// finished by the next: the distribution API lists no untagged manifest.
type journal struct {
	Repositories map[string][]v1.Hash `json:"repositories"`
}

func readJournal(path string) (*journal, error) {
	j := &journal{Repositories: map[string][]v1.Hash{}}
	if path == "" {
		return j, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err == nil {
		err = json.Unmarshal(data, j)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the prune journal %s: %w", path, err)
	}
	if j.Repositories == nil {
		j.Repositories = map[string][]v1.Hash{}
	}
	return j, nil
}

func (j *journal) write(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		return fmt.Errorf("writing the prune journal %s: %w", path, err)
	}
	return nil
}

// WriteText writes the plan as people read it: per repository what is
// kept by which rule, what is deleted, and the bytes.
func (p *Plan) WriteText(w io.Writer, done bool) error {
	verb := "would delete"
	if done {
		verb = "deleted"
	}
	var b strings.Builder
	for _, rp := range p.Repositories {
		fmt.Fprintf(&b, "%s\n", rp.Repository)
		for _, k := range rp.Kept {
			fmt.Fprintf(&b, "  keep    %-24s %s  %s\n", k.Tag, short(k.Digest), strings.Join(k.Rules, "; "))
		}
		for _, t := range rp.Deleted {
			note := ""
			if slices.Contains(rp.TagsAlone, t) {
				note = "  (the tag alone: a kept tag reaches its digest)"
			}
			if slices.Contains(rp.Undeleted, t) {
				note = "  (not deleted: the registry deletes no tag alone)"
			}
			fmt.Fprintf(&b, "  delete  %-24s %s%s\n", t, short(rp.tags[t]), note)
		}
		for _, d := range rp.Delete {
			of := ""
			if d.Of != nil {
				of = " of " + short(*d.Of)
			}
			tags := ""
			if len(d.Tags) > 0 {
				tags = " [" + strings.Join(d.Tags, " ") + "]"
			}
			fmt.Fprintf(&b, "  %s %s %s%s%s\n", verb, short(d.Digest), d.Kind, of, tags)
		}
		fmt.Fprintf(&b, "  %s\n", rp.Summary())
	}
	repos := "repositories"
	if len(p.Repositories) == 1 {
		repos = "repository"
	}
	fmt.Fprintf(&b, "%d %s; %s %s\n", len(p.Repositories), repos, verb, units.Bytes(p.Bytes))
	_, err := io.WriteString(w, b.String())
	return err
}

func short(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.String()
	}
	return h.Algorithm + ":" + h.Hex[:12]
}
