package meta

import (
	"fmt"
	"strings"
)

// This file ports src/annotation.ts: the entries of the `labels` and
// `annotations` inputs, either `key=value` or
// `name=<key>,value=<value>,enable=<bool>`.

// customEntry is one label or annotation given by the user.
type customEntry struct {
	name     string
	value    string
	hasValue bool // upstream's value != null
	enable   bool
	tmpl     *template
}

// parseCustomEntries parses the labels or annotations input.
func parseCustomEntries(entries []string) ([]customEntry, error) {
	out := make([]customEntry, 0, len(entries))
	for _, entry := range entries {
		e, err := parseCustomEntry(entry)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseCustomEntry(input string) (customEntry, error) {
	e := customEntry{enable: true}
	fields, err := splitFields(input, true)
	if err != nil {
		return e, fmt.Errorf("parsing %q: %w", input, err)
	}
	usesAttributes := false
	for _, field := range fields {
		key, _, _ := strings.Cut(field, "=")
		switch strings.ToLower(jsTrim(key)) {
		case "name", "value", "enable":
			usesAttributes = true
		}
		if usesAttributes {
			break
		}
	}
	if usesAttributes {
		for _, field := range fields {
			parts := strings.Split(field, "=")
			for i := range parts {
				parts[i] = jsTrim(parts[i])
			}
			if len(parts) == 1 {
				e.name = parts[0]
				continue
			}
			value := strings.Join(parts[1:], "=")
			switch key := strings.ToLower(parts[0]); key {
			case "name":
				e.name = value
			case "value":
				e.value, e.hasValue = value, true
			case "enable":
				if v := strings.ToLower(value); v != "true" && v != "false" {
					return e, fmt.Errorf("invalid enable %q in %q (expected true or false)", value, input)
				}
				e.enable = strings.EqualFold(value, "true")
			default:
				return e, fmt.Errorf("unknown attribute %q in %q (expected name, value or enable)", key, input)
			}
		}
	} else if name, value, ok := strings.Cut(input, "="); ok {
		e.name, e.value, e.hasValue = jsTrim(name), jsTrim(value), true
	} else {
		e.name = jsTrim(input)
	}
	if e.name == "" {
		return e, fmt.Errorf("empty name in %q (expected key=value or name=<key>,value=<value>)", input)
	}
	if e.hasValue {
		if e.tmpl, err = parseTemplate(e.value); err != nil {
			return e, fmt.Errorf("parsing value %q of %q: %w", e.value, input, err)
		}
	}
	return e, nil
}
