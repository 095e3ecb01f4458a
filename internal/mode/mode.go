// Package mode is the typed form of the inputs that choose what a run
// does (push, sign, comment) and of the signing mode the plan picks: one
// type each, shared by the configuration, the plan and the stages.
package mode

// Switch is an auto|true|false input: push and sign.
type Switch string

// Switch values.
const (
	Auto Switch = "auto" // decided by the event (push) or what is available (sign)
	On   Switch = "true"
	Off  Switch = "false"
)

// Comment is the comment input.
type Comment string

// Comment values.
const (
	// CommentAuto comments on pull requests whose token may write.
	CommentAuto Comment = "auto"
	// CommentAlways tries even on a fork's pull request.
	CommentAlways Comment = "always"
	// CommentNever never comments.
	CommentNever Comment = "never"
)

// Signing is how the plan signs: with a key or keyless; "" when it does
// not sign.
type Signing string

// Signing modes.
const (
	Key     Signing = "key"
	Keyless Signing = "keyless"
)

// SignatureFormat is how signatures and attestations are stored: cosign's
// legacy layout (sha256-<hex>.sig and .att tags), Sigstore bundles as OCI
// 1.1 referrers (what cosign v3 writes by default), or both. The zero
// value is legacy.
type SignatureFormat string

// Signature formats.
const (
	FormatLegacy SignatureFormat = "legacy"
	FormatBundle SignatureFormat = "bundle"
	FormatBoth   SignatureFormat = "both"
)

// Legacy tells whether the format writes the legacy layout.
func (f SignatureFormat) Legacy() bool { return f != FormatBundle }

// Bundle tells whether the format writes Sigstore bundles.
func (f SignatureFormat) Bundle() bool { return f == FormatBundle || f == FormatBoth }
