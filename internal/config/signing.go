package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-ci/slipway/internal/errs"
)

// Signing environment: cosign's own names, so a pipeline that ran cosign
// keeps its secrets.
const (
	EnvCosignPassword     = "COSIGN_PASSWORD"
	EnvSigstoreIDToken    = "SIGSTORE_ID_TOKEN"
	EnvGitHubTokenURL     = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvGitHubTokenRequest = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// kmsSchemes are the key references cosign resolves itself: KMS providers,
// Kubernetes secrets, hardware tokens.
var kmsSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://", "k8s://", "pkcs11:"}

// SigningKey is the cosign-key input resolved: the PEM of a key file or
// of an env:// variable, or a reference cosign resolves (KMS).
type SigningKey struct {
	// Ref is the input as given, for messages; "" means keyless.
	Ref string
	// PEM is an encrypted cosign or sigstore private key (as cosign
	// generate-key-pair writes it); nil for KMS.
	PEM []byte
	// KMS is a reference cosign's KMS providers resolve.
	KMS string
	// Password decrypts PEM (COSIGN_PASSWORD, may be empty).
	Password []byte
}

// SigningKey resolves the cosign-key input. Errors are input errors.
func (l *Loaded) SigningKey() (SigningKey, error) {
	ref := strings.TrimSpace(l.CosignKey)
	k := SigningKey{Ref: ref}
	if ref == "" {
		return k, nil
	}
	pw, _ := l.env.Lookup(EnvCosignPassword)
	k.Password = []byte(pw)
	for _, s := range kmsSchemes {
		if strings.HasPrefix(ref, s) {
			k.KMS = ref
			return k, nil
		}
	}
	if v, ok := strings.CutPrefix(ref, "env://"); ok {
		pem, set := l.env.Lookup(v)
		if !set || strings.TrimSpace(pem) == "" {
			return k, errs.Input("cosign-key", "env://%s names an unset or empty environment variable (expected it to hold the PEM private key)", v)
		}
		k.PEM = []byte(pem)
		return k, nil
	}
	if strings.Contains(ref, "://") {
		return k, errs.Input("cosign-key", "%q has an unknown scheme (expected a file path, env://VAR, or one of %s)", ref, strings.Join(kmsSchemes, " "))
	}
	path := ref
	if !filepath.IsAbs(path) && l.Context != "" {
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(l.Context, ref)
		}
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return k, errs.WrapInput("cosign-key", err, "reading the key file %q (expected a cosign private key file)", ref)
	}
	k.PEM = pem
	return k, nil
}

// OIDC is where a keyless signing identity comes from: a token given as
// is (SIGSTORE_ID_TOKEN, e.g. GitLab id_tokens), or GitHub Actions' token
// endpoint (permissions: id-token: write).
type OIDC struct {
	Token                    string
	RequestURL, RequestToken string
}

// OIDCSource returns the keyless signing identity's source.
func (l *Loaded) OIDCSource() OIDC {
	var o OIDC
	o.Token, _ = l.env.Lookup(EnvSigstoreIDToken)
	o.RequestURL, _ = l.env.Lookup(EnvGitHubTokenURL)
	o.RequestToken, _ = l.env.Lookup(EnvGitHubTokenRequest)
	return o
}

// signingSecrets are the signing values that must never be shown.
func (l *Loaded) signingSecrets() []string {
	o := l.OIDCSource()
	pw, _ := l.env.Lookup(EnvCosignPassword)
	out := []string{o.Token, o.RequestToken, pw}
	if strings.Contains(l.CosignKey, "-----BEGIN") {
		out = append(out, pemLines(l.CosignKey)...)
	}
	if v, ok := strings.CutPrefix(strings.TrimSpace(l.CosignKey), "env://"); ok {
		// A PEM is masked line by line (CI log masking is per line); its
		// armour lines are not secret.
		pem, _ := l.env.Lookup(v)
		out = append(out, pemLines(pem)...)
	}
	return out
}

// pemLines are a PEM's lines but its armour, for masking line by line.
func pemLines(pem string) []string {
	var out []string
	for line := range strings.Lines(pem) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}
