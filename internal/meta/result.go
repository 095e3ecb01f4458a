package meta

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/ci"
)

// Result is what metadata-action outputs for one CI context.
type Result struct {
	Version Version
	// Images are the enabled image names, lower-cased.
	Images []string
	// Tags are the full references image:tag, for each image its
	// version, partial tags and latest; just the tags without images.
	Tags []string
	// TagNames are the tags without image names.
	TagNames []string
	// Labels are the OCI labels, sorted by key.
	Labels []KV
	// Annotations are each annotation at each annotation level.
	Annotations []Annotation
	// Warnings are what metadata-action logs as warnings (a tag that is
	// not semver, a pattern that does not match...).
	Warnings []string

	sepTags, sepLabels, sepAnnotations string
}

// Compute applies the rules to a CI context at time now.
func (s *Spec) Compute(c *ci.Context, now time.Time) (*Result, error) {
	ev := newEvaluation(s, c, now)
	version, err := ev.version()
	if err != nil {
		return nil, err
	}
	r := &Result{Version: version, sepTags: s.sepTags, sepLabels: s.sepLabels, sepAnnotations: s.sepAnnotations}
	for _, img := range s.images {
		if img.enable {
			r.Images = append(r.Images, sanitizeImageName(img.name))
		}
	}
	if version.Main != "" {
		r.TagNames = s.tagsFor(version, "")
		if len(r.Images) == 0 {
			r.Tags = slices.Clone(r.TagNames)
		}
		for _, img := range r.Images {
			r.Tags = append(r.Tags, s.tagsFor(version, img)...)
		}
	}
	if r.Labels, err = ev.ociAnnotations(version.Main, s.labels, "labels"); err != nil {
		return nil, err
	}
	annotations, err := ev.ociAnnotations(version.Main, s.annotations, "annotations")
	if err != nil {
		return nil, err
	}
	for _, level := range s.annotationLevels {
		for _, a := range annotations {
			r.Annotations = append(r.Annotations, Annotation{Level: level, Key: a.Key, Value: a.Value})
		}
	}
	r.Warnings = ev.warnings
	return r, nil
}

// tagsFor is meta.ts generateTags: the version, the partial tags and
// latest, each prefixed with "image:" when an image is given.
func (s *Spec) tagsFor(v Version, imageName string) []string {
	prefix := ""
	if imageName != "" {
		prefix = imageName + ":"
	}
	tags := []string{prefix + v.Main}
	for _, p := range v.Partial {
		tags = append(tags, prefix+p)
	}
	if v.Latest {
		tags = append(tags, prefix+s.flavor.latestTag())
	}
	return tags
}

// TagsOutput is the `tags` output: Tags joined with sep-tags.
func (r *Result) TagsOutput() string { return strings.Join(r.Tags, r.sepTags) }

// LabelsOutput is the `labels` output: key=value joined with sep-labels.
func (r *Result) LabelsOutput() string {
	parts := make([]string, len(r.Labels))
	for i, l := range r.Labels {
		parts[i] = l.String()
	}
	return strings.Join(parts, r.sepLabels)
}

// AnnotationsOutput is the `annotations` output, joined with
// sep-annotations.
func (r *Result) AnnotationsOutput() string {
	return strings.Join(r.AnnotationStrings(), r.sepAnnotations)
}

// AnnotationStrings renders the annotations in metadata-action's form,
// level:key=value.
func (r *Result) AnnotationStrings() []string {
	out := make([]string, len(r.Annotations))
	for i, a := range r.Annotations {
		out[i] = a.String()
	}
	return out
}

// labelLine is the expression meta.ts getJSON reads labels with: the
// value stops at the first line terminator.
var labelLine = regexp.MustCompile(`^([^=]*)=([^\n\r\x{2028}\x{2029}]*)`)

// JSON returns what metadata-action puts in its `json` output,
// {"tags":[...],"tag-names":[...],"labels":{...},"annotations":[...]},
// plus slipway's "version": {"main": "...", "partial": [...], "latest": bool}.
func (r *Result) JSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	fields := []struct {
		key   string
		value any
	}{
		{"tags", nonNil(r.Tags)},
		{"tag-names", nonNil(r.TagNames)},
		{"labels", jsObject(r.labelPairs())},
		{"annotations", r.AnnotationStrings()},
		{"version", r.Version},
	}
	for i, f := range fields {
		if i > 0 {
			b.WriteString(",")
		}
		if err := writeJSON(&b, f.key); err != nil {
			return nil, err
		}
		b.WriteString(":")
		if err := writeJSON(&b, f.value); err != nil {
			return nil, err
		}
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

func (r *Result) labelPairs() []KV {
	var out []KV
	for _, l := range r.Labels {
		if m := labelLine.FindStringSubmatch(l.String()); m != nil {
			out = append(out, KV{m[1], m[2]})
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jsObject is an object with JavaScript's property order: array-index
// keys first in numeric order, then the others in insertion order.
type jsObject []KV

func (o jsObject) MarshalJSON() ([]byte, error) {
	ordered := append(jsObject(nil), o...)
	isIndex := func(k string) bool {
		n, err := strconv.ParseUint(k, 10, 32)
		return err == nil && n < 1<<32-1 && strconv.FormatUint(n, 10) == k
	}
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := isIndex(ordered[i].Key), isIndex(ordered[j].Key)
		if a && b {
			x, _ := strconv.ParseUint(ordered[i].Key, 10, 32)
			y, _ := strconv.ParseUint(ordered[j].Key, 10, 32)
			return x < y
		}
		return a && !b
	})
	var b bytes.Buffer
	b.WriteString("{")
	for i, kv := range ordered {
		if i > 0 {
			b.WriteString(",")
		}
		if err := writeJSON(&b, kv.Key); err != nil {
			return nil, err
		}
		b.WriteString(":")
		if err := writeJSON(&b, kv.Value); err != nil {
			return nil, err
		}
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

// writeJSON writes v as JSON without HTML escaping, as JSON.stringify.
func writeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// Outputs returns metadata-action's step outputs in the order it sets
// them: version, tags, tag-names, labels, annotations and json.
func (r *Result) Outputs() ([]KV, error) {
	js, err := r.JSON()
	if err != nil {
		return nil, err
	}
	return []KV{
		{"version", r.Version.Main},
		{"tags", r.TagsOutput()},
		{"tag-names", strings.Join(r.TagNames, r.sepTags)},
		{"labels", r.LabelsOutput()},
		{"annotations", r.AnnotationsOutput()},
		{"json", string(js)},
	}, nil
}
