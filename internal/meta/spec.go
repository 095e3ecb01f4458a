package meta

import (
	"github.com/slipway-ci/slipway/internal/errs"
)

// Inputs are metadata-action's inputs, already split into list entries
// (see csvlist.Split for how metadata-action splits its multi-line inputs).
type Inputs struct {
	Images, Tags, Flavor, Labels, Annotations []string
	// SepTags, SepLabels and SepAnnotations separate the entries of the
	// tags, labels and annotations outputs; "" means "\n".
	SepTags, SepLabels, SepAnnotations string
	// ShortSHALength is DOCKER_METADATA_SHORT_SHA_LENGTH; 0 means 7.
	ShortSHALength int
	// PRHeadSHA is DOCKER_METADATA_PR_HEAD_SHA: on pull request events,
	// use the head commit of the PR instead of the merge commit.
	PRHeadSHA bool
	// AnnotationLevels is DOCKER_METADATA_ANNOTATIONS_LEVELS split at
	// commas; nil means ["manifest"].
	AnnotationLevels []string
}

// defaultShortSHALength is metadata-action's short commit length.
const defaultShortSHALength = 7

// Spec is a validated set of inputs, ready to be applied to CI contexts.
type Spec struct {
	images           []image
	rules            []*tagRule // sorted by priority
	flavor           *flavor
	labels           []customEntry
	annotations      []customEntry
	sepTags          string
	sepLabels        string
	sepAnnotations   string
	shortSHALength   int
	prHeadSHA        bool
	annotationLevels []string
}

// Parse validates every image, tag rule, flavor, label and annotation
// entry. Errors are *errs.InputError naming the input.
func Parse(in Inputs) (*Spec, error) {
	s := &Spec{
		sepTags:          orNewline(in.SepTags),
		sepLabels:        orNewline(in.SepLabels),
		sepAnnotations:   orNewline(in.SepAnnotations),
		shortSHALength:   in.ShortSHALength,
		prHeadSHA:        in.PRHeadSHA,
		annotationLevels: in.AnnotationLevels,
	}
	if s.shortSHALength == 0 {
		s.shortSHALength = defaultShortSHALength
	}
	if s.shortSHALength < 0 {
		return nil, errs.Input("DOCKER_METADATA_SHORT_SHA_LENGTH", "invalid length %d (expected a positive number)", in.ShortSHALength)
	}
	if s.annotationLevels == nil {
		s.annotationLevels = []string{"manifest"}
	}
	for _, l := range s.annotationLevels {
		if l == "" {
			return nil, errs.Input("DOCKER_METADATA_ANNOTATIONS_LEVELS", "empty level (expected a comma-separated list such as manifest,index)")
		}
	}
	var err error
	if s.images, err = parseImages(in.Images); err != nil {
		return nil, inputError("images", err)
	}
	rules, builtin := in.Tags, false
	if len(rules) == 0 {
		rules, builtin = DefaultTagRules, true
	}
	if s.rules, err = parseTagRules(rules, builtin); err != nil {
		return nil, inputError("tags", err)
	}
	if s.flavor, err = parseFlavor(in.Flavor); err != nil {
		return nil, inputError("flavor", err)
	}
	if s.labels, err = parseCustomEntries(in.Labels); err != nil {
		return nil, inputError("labels", err)
	}
	if s.annotations, err = parseCustomEntries(in.Annotations); err != nil {
		return nil, inputError("annotations", err)
	}
	return s, nil
}

func orNewline(sep string) string {
	if sep == "" {
		return "\n"
	}
	return sep
}

// inputError turns a parsing error into the input's *errs.InputError.
func inputError(input string, err error) error {
	return &errs.InputError{Input: input, Msg: err.Error()}
}
