// Package attrs reads BuildKit's and buildx's comma-separated key=value
// entries (cache-from, cache-to, secrets, build-contexts, provenance) and
// renders them for display with their credentials hidden. It is a leaf:
// config validates with it, the plan redacts with it, the build reads with
// it.
package attrs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slipway-ci/slipway/internal/csvlist"
)

// Redacted replaces every secret value that is displayed.
const Redacted = "***"

// CacheEntry reads a cache-from or cache-to entry into its
// attributes. In cache-from a bare reference means type=registry,ref=<it>.
func CacheEntry(e string, from bool) (map[string]string, error) {
	if from && !strings.Contains(e, "=") {
		return map[string]string{"type": "registry", "ref": strings.TrimSpace(e)}, nil
	}
	return Parse(e)
}

// CredentialKeys are the attribute keys whose values are credentials (BuildKit's
// gha, s3 and azblob caches).
var CredentialKeys = []string{"token", "secret_access_key", "session_token", "access_key_id", "account_url", "shared_key"}

// Redact returns a key=value entry with credential values and URL
// user information hidden, for display.
func Redact(e string) string {
	fields, err := csvlist.Split(e, csvlist.Opts{})
	if err != nil {
		return "(unparsable entry)"
	}
	for i, f := range fields {
		k, _, ok := strings.Cut(f, "=")
		switch {
		case ok && slices.Contains(CredentialKeys, strings.ToLower(strings.TrimSpace(k))):
			fields[i] = k + "=" + Redacted
		default:
			fields[i] = redactURL(f)
		}
	}
	return strings.Join(fields, ",")
}

// redactURL hides the user information of the URL in s, if any.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	// The user information ends at the last "@" before the path, as
	// url.Parse reads it (a password may hold an "@").
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return s
	}
	return s[:i+3] + "***@" + rest[at+1:]
}

// Parse splits a CSV entry of key=value attributes.
func Parse(e string) (map[string]string, error) {
	fields, err := csvlist.Split(e, csvlist.Opts{})
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", f)
		}
		attrs[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return attrs, nil
}

// RemoteContext tells whether a build-contexts value names something
// other than a local directory (an image, an OCI layout, another stage,
// a Git or HTTPS URL).
func RemoteContext(v string) bool {
	for _, p := range []string{"docker-image://", "oci-layout://", "target:", "input:", "https://", "http://", "git://", "git@"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// Entry is one key=value entry as given (a cache-from, cache-to or
// build-contexts entry), which may carry a credential. It prints and
// encodes redacted; string(e) is the entry itself, for the build alone.
type Entry string

// String is the entry with its credentials hidden.
func (e Entry) String() string { return Redact(string(e)) }

// MarshalText encodes the entry redacted.
func (e Entry) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// Entries types a list of entries (nil for none).
func Entries(es []string) []Entry {
	var out []Entry
	for _, e := range es {
		out = append(out, Entry(e))
	}
	return out
}
