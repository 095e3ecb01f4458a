package semver

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, version string // version "" means invalid
		pre         bool
	}{
		{"v1.2.3", "1.2.3", false},
		{"1.2.3", "1.2.3", false},
		{"v2.0.8-beta.67", "2.0.8-beta.67", true},
		{"v9.5.7-alpha.2+fork.3.1.8", "9.5.7-alpha.2", true},
		{"v101.12.13", "101.12.13", false},
		{" 1.2.3 ", "1.2.3", false},
		{"1.2", "", false},
		{"01.2.3", "", false},
		{"1.2.3-01", "", false},
		{"1.2.3-0abc", "1.2.3-0abc", true},
		{"=1.2.3", "", false},
		{"v1.2.3rc2", "", false},
		{"99999999999999999.0.0", "", false},
	}
	for _, tt := range tests {
		v, err := Parse(tt.in, false)
		if tt.version == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %s, want invalid", tt.in, v)
			}
			continue
		}
		if err != nil || v.String() != tt.version || v.IsPrerelease() != tt.pre {
			t.Errorf("Parse(%q) = %v, %v; want %s (prerelease %v)", tt.in, v, err, tt.version, tt.pre)
		}
	}
	if v, err := Parse("=v1.2.3beta", true); err != nil || v.String() != "1.2.3-beta" {
		t.Errorf("loose parse = %v, %v", v, err)
	}
	if v, err := Parse("1.2.3-007.x", true); err != nil || v.String() != "1.2.3-7.x" {
		t.Errorf("loose numeric identifier = %v, %v", v, err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, v := range []string{"1.0", "1.0.0.0", "v1.x.0", "1.0.0-", "1.0.0-a..b", "1.0.0-a_b", "1.0.0+", "release-1", "", strings.Repeat("1", 257)} {
		if got, err := Parse(v, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, %v; want ErrInvalid", v, got, err)
		}
	}
}

func TestParseFields(t *testing.T) {
	v, err := Parse(" v1.2.3-alpha.10+build.5 ", false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Raw != " v1.2.3-alpha.10+build.5 " || v.Major != 1 || v.Minor != 2 || v.Patch != 3 || v.Loose ||
		strings.Join(v.Prerelease, ".") != "alpha.10" || strings.Join(v.Build, ".") != "build.5" {
		t.Errorf("Parse = %+v", v)
	}
}

func TestNumericID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		n    uint64
		isID bool
	}{
		{"0", 0, true}, {"010", 10, true}, {"9007199254740990", 9007199254740990, true},
		{"9007199254740991", 0, false}, {"1a", 0, false}, {"", 0, false}, {"-1", 0, false},
	} {
		if n, ok := NumericID(tc.id); n != tc.n || ok != tc.isID {
			t.Errorf("NumericID(%q) = %d, %v; want %d, %v", tc.id, n, ok, tc.n, tc.isID)
		}
	}
}
