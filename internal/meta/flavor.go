package meta

import (
	"fmt"
	"strings"
)

// This file ports src/flavor.ts: the `flavor` input.

// Latest modes of the flavor's `latest` entry.
const (
	latestAuto  = "auto"
	latestTrue  = "true"
	latestFalse = "false"
)

// flavor is the parsed flavor input.
type flavor struct {
	latest       string // auto, true or false
	prefix       string
	prefixLatest bool // also prefix the latest tag (onlatest=true)
	suffix       string
	suffixLatest bool
	// prefixTmpl and suffixTmpl are prefix and suffix as templates.
	prefixTmpl, suffixTmpl *template
}

// parseFlavor parses the flavor entries (flavor.ts Transform).
func parseFlavor(entries []string) (*flavor, error) {
	f := &flavor{latest: latestAuto}
	for _, entry := range entries {
		if err := f.parseEntry(entry); err != nil {
			return nil, err
		}
	}
	var err error
	if f.prefixTmpl, err = parseTemplate(f.prefix); err != nil {
		return nil, fmt.Errorf("parsing flavor prefix %q: %w", f.prefix, err)
	}
	if f.suffixTmpl, err = parseTemplate(f.suffix); err != nil {
		return nil, fmt.Errorf("parsing flavor suffix %q: %w", f.suffix, err)
	}
	return f, nil
}

func (f *flavor) parseEntry(entry string) error {
	fields, err := splitFields(entry, false)
	if err != nil {
		return fmt.Errorf("parsing flavor entry %q: %w", entry, err)
	}
	onLatestFor := ""
	for _, field := range fields {
		// flavor.ts splits on every "=" and keeps the second piece.
		parts := strings.Split(field, "=")
		if len(parts) == 1 {
			return fmt.Errorf("invalid flavor entry %q (expected key=value with latest, prefix, suffix or onlatest)", entry)
		}
		key, value := strings.ToLower(jsTrim(parts[0])), jsTrim(parts[1])
		switch key {
		case "latest":
			if value != latestAuto && value != latestTrue && value != latestFalse {
				return fmt.Errorf("invalid latest %q in flavor entry %q (expected auto, true or false)", value, entry)
			}
			f.latest = value
		case "prefix":
			f.prefix, onLatestFor = value, "prefix"
		case "suffix":
			f.suffix, onLatestFor = value, "suffix"
		case "onlatest":
			if value != "true" && value != "false" {
				return fmt.Errorf("invalid onlatest %q in flavor entry %q (expected true or false)", value, entry)
			}
			switch onLatestFor {
			case "prefix":
				f.prefixLatest = value == "true"
			case "suffix":
				f.suffixLatest = value == "true"
			}
		default:
			return fmt.Errorf("unknown flavor entry %q (expected latest, prefix, suffix or onlatest)", entry)
		}
	}
	return nil
}

// latestFor decides whether a rule's tag sets `latest`: in auto mode the
// rule type decides (auto), otherwise the flavor does.
func (f *flavor) latestFor(auto bool) bool {
	if f.latest == latestAuto {
		return auto
	}
	return f.latest == latestTrue
}

// latestTag is the name of the latest tag, with the flavor's prefix and
// suffix when onlatest=true (not rendered as templates, as upstream).
func (f *flavor) latestTag() string {
	tag := "latest"
	if f.prefixLatest {
		tag = f.prefix + tag
	}
	if f.suffixLatest {
		tag += f.suffix
	}
	return sanitizeTag(tag)
}
