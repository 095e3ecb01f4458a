package meta

import (
	"errors"

	"github.com/slipway-ci/slipway/internal/csvlist"
)

// splitFields returns the fields of the first record of s, as
// metadata-action's `parse(input, {relaxQuotes, ...})[0]` (csv-parse,
// ported in internal/csvlist) does. An entry without any record is an
// error (metadata-action crashes on it).
func splitFields(s string, relaxQuotes bool) ([]string, error) {
	records, err := csvlist.Parse(s, csvlist.ParseOpts{RelaxQuotes: relaxQuotes})
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, errors.New("empty entry")
	}
	return records[0], nil
}
