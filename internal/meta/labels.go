package meta

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/errs"
)

// This file ports meta.ts getOCIAnnotationsWithCustoms: the OCI
// annotations metadata-action generates, overridden by the labels or
// annotations input, sorted by key.

// KV is one label or annotation.
type KV struct {
	Key   string
	Value string
}

// String is key=value.
func (kv KV) String() string { return kv.Key + "=" + kv.Value }

// Annotation is one OCI annotation at one level: manifest, index,
// manifest-descriptor or index-descriptor, optionally with a platform,
// e.g. manifest[linux/amd64].
type Annotation struct {
	Level, Key, Value string
}

// String is metadata-action's output form, level:key=value.
func (a Annotation) String() string { return a.Level + ":" + a.Key + "=" + a.Value }

// AnnotationsAt are the annotations of one level, as a manifest's map
// (a later key wins).
func AnnotationsAt(as []Annotation, level string) map[string]string {
	out := map[string]string{}
	for _, a := range as {
		if a.Level == level {
			out[a.Key] = a.Value
		}
	}
	return out
}

// createdLayout is Date.prototype.toISOString's layout.
const createdLayout = "2006-01-02T15:04:05.000Z"

// ociAnnotations returns the OCI annotations with the custom entries
// applied: later entries override earlier ones with the same key, and
// the result is sorted by key as localeCompare sorts.
func (ev *evaluation) ociAnnotations(version string, custom []customEntry, input string) ([]KV, error) {
	repo := ev.ctx.Repository
	entries := []string{
		"org.opencontainers.image.title=" + repo.Name[strings.LastIndex(repo.Name, "/")+1:],
		"org.opencontainers.image.description=" + repo.Description,
		"org.opencontainers.image.url=" + repo.URL,
		"org.opencontainers.image.source=" + repo.URL,
		"org.opencontainers.image.version=" + version,
		"org.opencontainers.image.created=" + ev.now.UTC().Format(createdLayout),
		"org.opencontainers.image.revision=" + ev.sha,
		"org.opencontainers.image.licenses=" + repo.License,
	}
	for _, c := range custom {
		if !c.enable || !c.hasValue {
			continue
		}
		v, err := ev.render(c.tmpl, false)
		if err != nil {
			return nil, errs.WrapInput(input, err, "value of %q", c.name)
		}
		entries = append(entries, c.name+"="+v)
	}
	var out []KV
	index := map[string]int{}
	for _, e := range entries {
		key, value, ok := strings.Cut(e, "=")
		if !ok {
			continue
		}
		if i, seen := index[key]; seen {
			out[i].Value = value
			continue
		}
		index[key] = len(out)
		out = append(out, KV{key, value})
	}
	sort.SliceStable(out, func(i, j int) bool { return localeLess(out[i].Key, out[j].Key) })
	return out, nil
}

// localeOrder is the primary order of ASCII punctuation and symbols in
// ICU's root collation, which String.prototype.localeCompare uses; they
// sort before digits, and digits before letters.
const localeOrder = "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"

// collationKey returns the primary and tertiary weight of r.
func collationKey(r rune) (primary, tertiary int) {
	if r < utf8.RuneSelf {
		if i := strings.IndexRune(localeOrder, r); i >= 0 {
			return i, 0
		}
		if r >= 'a' && r <= 'z' {
			return len(localeOrder) + int(r-'a'), 0
		}
		if r >= 'A' && r <= 'Z' {
			return len(localeOrder) + int(r-'A'), 1 // lower case first
		}
	}
	return len(localeOrder) + 26 + int(r), 0
}

// localeLess approximates a.localeCompare(b) < 0: letters compare
// without case first, then lower case before upper case, then code
// points.
func localeLess(a, b string) bool {
	for level := 0; level < 2; level++ {
		ra, rb := []rune(a), []rune(b)
		for i := 0; i < len(ra) && i < len(rb); i++ {
			pa, ta := collationKey(ra[i])
			pb, tb := collationKey(rb[i])
			wa, wb := pa, pb
			if level == 1 {
				wa, wb = ta, tb
			}
			if wa != wb {
				return wa < wb
			}
		}
		if len(ra) != len(rb) {
			return len(ra) < len(rb)
		}
	}
	return a < b
}
