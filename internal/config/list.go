package config

import (
	"fmt"
	"strings"
)

// ListOpts says how a list input is split, as docker/actions-toolkit's
// Util.getInputList does for the metadata-action and build-push-action
// inputs of the same name.
type ListOpts struct {
	// IgnoreComma keeps a CSV record with several fields as one entry
	// (re-joined with ","): tag rules such as "type=ref,event=pr" are one
	// entry. Without it, every field is an entry ("a,b" is two).
	IgnoreComma bool
	// Comment makes "#" start a comment that runs to the end of its line.
	Comment bool
	// NoQuote treats '"' as an ordinary character.
	NoQuote bool
}

// SplitList splits a list input the way metadata-action does: CSV records
// (newline separated, '"'-quoted fields with "" escapes, quotes inside an
// unquoted field kept as they are), empty lines skipped, then each entry
// trimmed and empty entries dropped.
func SplitList(input string, opts ListOpts) ([]string, error) {
	if input == "" {
		return nil, nil
	}
	records, err := parseCSV(input, opts)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rec := range records {
		switch {
		case len(rec) == 1 && opts.IgnoreComma:
			out = append(out, rec[0])
		case len(rec) == 1:
			out = append(out, strings.Split(rec[0], ",")...)
		case opts.IgnoreComma:
			out = append(out, strings.Join(rec, ","))
		default:
			out = append(out, rec...)
		}
	}
	res := out[:0]
	for _, item := range out {
		if item = strings.TrimSpace(item); item != "" {
			res = append(res, item)
		}
	}
	return res, nil
}

// parseCSV is a small CSV reader with csv-parse's options columns=false,
// relaxQuotes, relaxColumnCount, skipEmptyLines and (optionally) comment='#'.
func parseCSV(input string, opts ListOpts) ([][]string, error) {
	var (
		records [][]string
		record  []string
		field   strings.Builder
		line    = 1
		quoted  bool // inside a quoted field
		wasQ    bool // current field was quoted (and closed)
		fresh   = true
	)
	endField := func() {
		record = append(record, field.String())
		field.Reset()
		wasQ, fresh = false, true
	}
	endRecord := func() {
		endField()
		// skipEmptyLines: a record of one empty field is no record.
		if len(record) != 1 || record[0] != "" {
			records = append(records, record)
		}
		record = nil
	}
	for i := 0; i < len(input); i++ {
		c := input[i]
		if quoted {
			if c == '"' {
				if i+1 < len(input) && input[i+1] == '"' {
					field.WriteByte('"')
					i++
					continue
				}
				quoted, wasQ = false, true
				continue
			}
			if c == '\n' {
				line++
			}
			field.WriteByte(c)
			continue
		}
		switch {
		case c == '\r' && i+1 < len(input) && input[i+1] == '\n':
			// CRLF: handled by the '\n'.
		case c == '\n':
			endRecord()
			line++
		case c == ',':
			endField()
		case c == '#' && opts.Comment:
			// The rest of the line is a comment; the newline still ends
			// the record, and a record left empty is skipped.
			for i+1 < len(input) && input[i+1] != '\n' {
				i++
			}
		case c == '"' && !opts.NoQuote && fresh:
			quoted = true
			fresh = false
		default:
			if wasQ {
				return nil, fmt.Errorf("line %d: unexpected %q after a closing quote (a quoted entry must end at a comma or a line end)", line, c)
			}
			field.WriteByte(c)
			fresh = false
		}
	}
	if quoted {
		return nil, fmt.Errorf("line %d: quote not closed", line)
	}
	if len(record) > 0 || field.Len() > 0 || wasQ {
		endRecord()
	}
	return records, nil
}
