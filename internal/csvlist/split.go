package csvlist

import (
	"strings"

	"github.com/slipway-ci/slipway/internal/jsstring"
)

// Opts are the options of docker/actions-toolkit's Util.getList (and
// getInputList) that slipway's list inputs use.
type Opts struct {
	// IgnoreComma keeps a record with several fields as one entry
	// (re-joined with ","): tag rules such as "type=ref,event=pr" are one
	// entry. Without it, every field is an entry ("a,b" is two).
	IgnoreComma bool
	// Comment is the comment character ('#' for metadata-action's
	// inputs), 0 for none.
	Comment byte
	// NoQuote treats '"' as an ordinary character.
	NoQuote bool
}

// Split splits a list input as Util.getList does: CSV records (see
// Parse; quotes inside an unquoted field are kept as they are), empty
// lines skipped, then each entry trimmed as JavaScript's String#trim does
// and empty entries dropped.
//
// One difference from getList: an entry of blanks is dropped (getList
// drops empty entries before trimming and keeps it as "").
func Split(input string, opts Opts) ([]string, error) {
	if input == "" {
		return nil, nil
	}
	records, err := Parse(input, ParseOpts{Comment: opts.Comment, NoQuote: opts.NoQuote, RelaxQuotes: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rec := range records {
		entries := rec
		switch {
		case opts.IgnoreComma:
			entries = []string{strings.Join(rec, ",")}
		case len(rec) == 1:
			entries = strings.Split(rec[0], ",")
		}
		for _, e := range entries {
			if e = jsstring.Trim(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out, nil
}
