package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	csig "github.com/sigstore/cosign/v2/pkg/signature"
	"github.com/sigstore/fulcio/pkg/api"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/oauthflow"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"golang.org/x/oauth2"

	// KMS providers cosign's key references resolve to, as the cosign CLI
	// registers them.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
)

// Key is a key-based identity: an encrypted cosign key (file or env://)
// or a KMS key, resolved from the cosign-key input by the caller.
type Key struct {
	// Ref is the input as given, for messages.
	Ref string
	// PEM is an encrypted cosign or sigstore private key (as cosign
	// generate-key-pair writes it); nil for KMS.
	PEM []byte
	// KMS is a reference cosign's KMS providers resolve.
	KMS string
	// Password decrypts PEM (COSIGN_PASSWORD, may be empty).
	Password []byte
}

// Describe implements Identity.
func (k Key) Describe() string { return k.Ref }

// Signer implements Identity.
func (k Key) Signer(ctx context.Context) (*Signer, error) {
	if k.KMS != "" {
		sv, err := csig.SignerVerifierFromKeyRef(ctx, k.KMS, nil, nil)
		if err != nil {
			return nil, err
		}
		// A KMS key is only reached when used: ask for its public key
		// now, so an unreachable KMS fails here, before anything moves.
		if _, err := sv.PublicKey(options.WithContext(ctx)); err != nil {
			return nil, fmt.Errorf("reading the public key from %s: %w", k.KMS, err)
		}
		return &Signer{SignerVerifier: sv}, nil
	}
	sv, err := cosign.LoadPrivateKey(k.PEM, k.Password, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypting the private key (password from COSIGN_PASSWORD): %w", err)
	}
	return &Signer{SignerVerifier: sv}, nil
}

// TokenSource returns an OIDC identity token for the audience "sigstore".
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a token given as is (SIGSTORE_ID_TOKEN: GitLab's
// id_tokens, or any CI that mints one).
func StaticToken(tok string) TokenSource {
	return func(context.Context) (string, error) { return tok, nil }
}

// GitHubToken asks GitHub Actions' token endpoint (permissions: id-token:
// write) for a token with audience sigstore.
func GitHubToken(requestURL, requestToken string, hc *http.Client) TokenSource {
	return func(ctx context.Context) (string, error) {
		u, err := url.Parse(requestURL)
		if err != nil {
			return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
		}
		q := u.Query()
		q.Set("audience", "sigstore")
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+requestToken)
		req.Header.Set("Accept", "application/json")
		if hc == nil {
			hc = &http.Client{Timeout: 30 * time.Second}
		}
		resp, err := hc.Do(req)
		if err != nil {
			return "", fmt.Errorf("requesting an OIDC token from GitHub: %w", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("requesting an OIDC token from GitHub: %s (does the job have permissions: id-token: write?)", resp.Status)
		}
		var v struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
			return "", errors.New("requesting an OIDC token from GitHub: no token in the answer")
		}
		return v.Value, nil
	}
}

// fulcioTimeout bounds the certificate request (the legacy API takes no
// context).
const fulcioTimeout = 30 * time.Second

// Keyless is a keyless identity: an ephemeral key whose certificate
// Fulcio issues for an OIDC token.
type Keyless struct {
	FulcioURL string
	Token     TokenSource
}

// Describe implements Identity.
func (k Keyless) Describe() string { return "keyless via " + k.FulcioURL }

// Signer implements Identity.
func (k Keyless) Signer(ctx context.Context) (*Signer, error) {
	tok, err := k.Token(ctx)
	if err != nil {
		return nil, err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	// As cosign: the token's subject, signed with the new key, proves
	// possession of it to Fulcio, which checks the token itself.
	id, err := (&oauthflow.StaticTokenGetter{RawToken: tok}).GetIDToken(nil, oauth2.Config{})
	if err != nil {
		return nil, fmt.Errorf("reading the OIDC token: %w", err)
	}
	proof, err := sv.SignMessage(strings.NewReader(id.Subject))
	if err != nil {
		return nil, err
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(k.FulcioURL)
	if err != nil {
		return nil, fmt.Errorf("fulcio-url %q: %w", k.FulcioURL, err)
	}
	fc := api.NewClient(u, api.WithUserAgent("slipway"), api.WithTimeout(fulcioTimeout))
	resp, err := fc.SigningCert(api.CertificateRequest{PublicKey: api.Key{Content: pubPEM}, SignedEmailAddress: proof}, tok)
	if err != nil {
		return nil, fmt.Errorf("getting a certificate from %s: %w", k.FulcioURL, err)
	}
	return CertSigner(sv, resp.CertPEM, resp.ChainPEM)
}

// CertSigner is a signer holding a Fulcio-style certificate for its key.
func CertSigner(sv signature.SignerVerifier, certPEM, chainPEM []byte) (*Signer, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("the certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	sum, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate's identity: %w", err)
	}
	return &Signer{SignerVerifier: sv, Cert: certPEM, Chain: chainPEM, Subject: sum.SubjectAlternativeName, Issuer: sum.Issuer}, nil
}

// Resolved is an identity whose signer is already loaded.
func Resolved(s *Signer, describe string) Identity { return resolved{s, describe} }

type resolved struct {
	s *Signer
	d string
}

func (r resolved) Signer(context.Context) (*Signer, error) { return r.s, nil }
func (r resolved) Describe() string                        { return r.d }
