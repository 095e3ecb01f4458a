// Package csvlist splits list inputs the way the docker GitHub actions do:
// Parse ports the parts of csv-parse ("csv-parse/sync") that
// docker/metadata-action and docker/actions-toolkit use, and Split ports
// actions-toolkit's Util.getList on top of it.
package csvlist

import (
	"fmt"
	"strings"
)

// ParseOpts are the csv-parse options Parse supports. The rest is fixed
// as the callers set it: delimiter ",", quote and escape '"', records
// separated by CR, LF or CRLF, relax_column_count, skip_empty_lines, no
// trimming.
type ParseOpts struct {
	// Comment is csv-parse's comment: outside a quoted field, this
	// character starts a comment that runs to the end of the line. 0 for
	// none.
	Comment byte
	// NoQuote is csv-parse's quote: false: '"' is an ordinary character.
	NoQuote bool
	// RelaxQuotes is csv-parse's relax_quotes: a quote inside an unquoted
	// field, or text after a closing quote, is kept as text where the
	// parse would otherwise fail.
	RelaxQuotes bool
}

// Parse returns the records of s, each a list of fields. Like csv-parse
// it fails on an unclosed quote and, unless opts.RelaxQuotes is set, on a
// quote inside an unquoted field or text after a closing quote. A line
// with no content (empty, or only a comment) is no record.
func Parse(s string, opts ParseOpts) ([][]string, error) {
	var (
		records  [][]string
		record   []string
		field    strings.Builder
		quoting  bool
		quoteAt  int  // where the open quote is
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
			case next == 0 || next == ',' || next == '\n' || next == '\r' || opts.Comment != 0 && next == opts.Comment:
				quoting, wasQuote = false, true
			case !opts.RelaxQuotes:
				return nil, fmt.Errorf("line %d: invalid closing quote: got %q instead of a comma or a line end (a quoted field must end there)", lineAt(s, i), next)
			default:
				// relax_quotes: the quotes become part of the field.
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
		case opts.Comment != 0 && c == opts.Comment:
			// A comment runs to the end of the line.
			for i+1 < len(s) && s[i+1] != '\n' && s[i+1] != '\r' {
				i++
			}
		case c == ',':
			rawLine = true
			endField()
		case c == '"' && !opts.NoQuote:
			rawLine = true
			if field.Len() == 0 && !wasQuote {
				quoting, quoteAt = true, i
				continue
			}
			if !opts.RelaxQuotes {
				return nil, fmt.Errorf("line %d: invalid opening quote: a quote inside an unquoted field (quote the whole field)", lineAt(s, i))
			}
			field.WriteByte(c)
		default:
			rawLine = true
			field.WriteByte(c)
		}
	}
	if quoting {
		return nil, fmt.Errorf("line %d: quote not closed: the input ends inside a quoted field", lineAt(s, quoteAt))
	}
	endRecord()
	return records, nil
}

// lineAt returns the line number (from 1) of s[i].
func lineAt(s string, i int) int {
	before := strings.ReplaceAll(s[:i], "\r\n", "\n")
	return 1 + strings.Count(before, "\n") + strings.Count(before, "\r")
}
