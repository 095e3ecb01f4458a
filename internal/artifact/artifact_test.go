package artifact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const hex = "1111111111111111111111111111111111111111111111111111111111111111"

func TestAttachedTags(t *testing.T) {
	h := v1.Hash{Algorithm: "sha256", Hex: hex}
	repo, err := name.NewRepository("ghcr.io/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a    Attached
		want string
	}{
		{Attached{Signature, h}, "ghcr.io/acme/app:sha256-" + hex + ".sig"},
		{Attached{Attestation, h}, "ghcr.io/acme/app:sha256-" + hex + ".att"},
	} {
		if got := tc.a.In(repo).String(); got != tc.want {
			t.Errorf("%v in %s = %s, want %s", tc.a, repo, got, tc.want)
		}
		js, err := json.Marshal(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		var back Attached
		if err := json.Unmarshal(js, &back); err != nil || back != tc.a {
			t.Errorf("%s read back as %v, %v", js, back, err)
		}
	}
	for _, bad := range []string{"v1", "sha256-" + hex, "sha256-" + hex + ".sbom", "sha256-xyz.sig", "sha256" + hex + ".att"} {
		if a, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, a)
		}
	}
}

// SubjectOf reads cosign's .sig/.att/.sbom tags and the referrers
// API's fallback tag; an ordinary tag, or one with a bad digest, is none.
func TestSubjectOf(t *testing.T) {
	other := strings.Repeat("ab", 32)
	for tag, want := range map[string]string{
		"sha256-" + other + ".sig": "sig", "sha256-" + other + ".att": "att", "sha256-" + other + ".sbom": "sbom", "sha256-" + other: "",
	} {
		subj, suffix, ok := SubjectOf(tag)
		if !ok || suffix != want || subj.Hex != other || subj.Algorithm != "sha256" {
			t.Errorf("SubjectOf(%q) = %v, %q, %v", tag, subj, suffix, ok)
		}
	}
	for _, tag := range []string{"v1.2.3", "latest", "sha256-abc.sig", "sha256-" + other + ".txt", "md5-" + other + ".sig"} {
		if _, _, ok := SubjectOf(tag); ok {
			t.Errorf("SubjectOf(%q) took it for an attached tag", tag)
		}
	}
}
