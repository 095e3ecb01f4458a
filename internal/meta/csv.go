package meta

import (
	"errors"
	"fmt"
	"strings"
)

// This file ports the parts of csv-parse (the "csv-parse/sync" module
// metadata-action and docker/actions-toolkit call) that split one input
// entry into fields: delimiter ",", quote and escape `"`, records
// separated by CR, LF or CRLF, empty lines skipped, no trimming.

// csvOptions are the csv-parse options the callers use.
type csvOptions struct {
	relaxQuotes bool // relax_quotes: keep stray quotes as text
	comment     byte // comment character, 0 for none
}

// parseCSV returns the records of s. Like csv-parse it fails on an
// unclosed quote and, unless relaxQuotes is set, on a quote inside an
// unquoted field or text after a closing quote.
func parseCSV(s string, opts csvOptions) ([][]string, error) {
	var (
		records  [][]string
		record   []string
		field    strings.Builder
		quoting  bool
		wasQuote bool // the current field was quoted
		rawLine  bool // the current line has content
	)
	endField := func() {
		record = append(record, field.String())
		field.Reset()
		wasQuote = false
	}
	endRecord := func() {
		if rawLine {
			endField()
			records = append(records, record)
		}
		record, rawLine = nil, false
		field.Reset()
		wasQuote = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quoting {
			if c != '"' {
				field.WriteByte(c)
				continue
			}
			if i+1 < len(s) && s[i+1] == '"' { // escaped quote
				field.WriteByte('"')
				i++
				continue
			}
			next := byte(0)
			if i+1 < len(s) {
				next = s[i+1]
			}
			switch {
			case next == 0 || next == ',' || next == '\n' || next == '\r':
				quoting, wasQuote = false, true
			case !opts.relaxQuotes:
				return nil, fmt.Errorf("invalid closing quote: got %q instead of a delimiter in %q", next, s)
			default:
				quoting, wasQuote = false, true
				text := field.String()
				field.Reset()
				field.WriteString(`"` + text + `"`)
			}
			continue
		}
		switch {
		case c == '\n' || c == '\r':
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			endRecord()
		case opts.comment != 0 && c == opts.comment:
			// A comment runs to the end of the line.
			for i+1 < len(s) && s[i+1] != '\n' && s[i+1] != '\r' {
				i++
			}
		case c == ',':
			rawLine = true
			endField()
		case c == '"':
			rawLine = true
			if field.Len() == 0 && !wasQuote {
				quoting = true
				continue
			}
			if !opts.relaxQuotes {
				return nil, fmt.Errorf("invalid opening quote: a quote is found inside a field in %q", s)
			}
			field.WriteByte(c)
		default:
			rawLine = true
			field.WriteByte(c)
		}
	}
	if quoting {
		return nil, errors.New("quote not closed: the entry ends inside a quoted field")
	}
	endRecord()
	return records, nil
}

// splitFields returns the fields of the first record of s, as
// metadata-action's `parse(input, ...)[0]` does. An entry without any
// record is an error (metadata-action crashes on it).
func splitFields(s string, relaxQuotes bool) ([]string, error) {
	records, err := parseCSV(s, csvOptions{relaxQuotes: relaxQuotes})
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, errors.New("empty entry")
	}
	return records[0], nil
}

// SplitList splits a multi-line input the way metadata-action reads its
// list inputs (docker/actions-toolkit Util.getInputList with
// ignoreComma and comment "#"): one entry per line, "#" starts a
// comment, fields of a line are re-joined with "," (which drops the
// quotes around quoted fields), empty entries are dropped and entries
// are trimmed.
func SplitList(input string) ([]string, error) {
	if input == "" {
		return nil, nil
	}
	records, err := parseCSV(input, csvOptions{relaxQuotes: true, comment: '#'})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range records {
		// Upstream drops empty entries before trimming, keeping an empty
		// entry for a line of blanks before a comment; slipway drops it.
		if e := jsTrim(strings.Join(r, ",")); e != "" {
			out = append(out, e)
		}
	}
	return out, nil
}
