package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/version"
)

// RetryPolicy is how every registry request slipway makes survives a
// transient fault: the ping and token requests, manifest and blob reads
// and writes, mounts, signatures, attestations and tags all go through
// one Transport built from it (go-containerregistry's own retries are
// turned off, so that no request is retried twice over).
//
// A request is tried again after a transport error (a reset, a refused
// connection, a timeout), a body cut after the headers, or a 408, 429,
// 500, 502, 503 or 504 answer; after an exponential backoff with jitter,
// or after the Retry-After the registry asked for; until MaxTime has
// passed since its first try or MaxAttempts tries were made. A blob upload
// whose PATCH fails resumes from the offset the registry reports for the
// upload, or, when the registry has dropped the upload (distribution
// cancels one whose state token is stale), starts a new upload session.
type RetryPolicy struct {
	// MaxTime bounds the time one request is retried for; 0 turns
	// retries off.
	MaxTime time.Duration
	// MaxAttempts bounds the tries of one request; 0 means 8.
	MaxAttempts int
	// Initial is the first backoff (0 means 500 ms); it doubles per try,
	// up to 30 s, and is cut by a random jitter of up to half.
	Initial time.Duration
	// Log receives one line per retry (what, why, attempt); nil is
	// silent.
	Log io.Writer
	// Now and Sleep are the clock; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1); nil means math/rand/v2.
	Jitter func() float64
}

// DefaultRetryTime is the registry-retry-time input's default.
const DefaultRetryTime = 2 * time.Minute

const (
	defaultAttempts = 8
	maxBackoff      = 30 * time.Second
	// maxBuffered is the largest response body read whole before it is
	// handed over, so that a cut in it is retried (manifests, configs,
	// signature layers); larger blob bodies resume with Range instead.
	maxBuffered = 8 << 20
)

// Transport is a RetryPolicy applied to inner (nil means
// go-containerregistry's DefaultTransport). It also sets slipway's
// User-Agent.
func (p RetryPolicy) Transport(inner http.RoundTripper) http.RoundTripper {
	if inner == nil {
		inner = remote.DefaultTransport
	}
	return &retryTransport{inner: inner, p: p}
}

// DefaultTransport is the retrying transport with the default policy and
// no log: what a stage given no Transport uses.
var DefaultTransport = RetryPolicy{MaxTime: DefaultRetryTime}.Transport(nil)

// noRetry is what go-containerregistry is given instead of its own
// retries: one try; the Transport retries each request.
var noRetry = remote.Backoff{Steps: 1}

// RemoteOptions are the options of every registry request slipway makes
// through go-containerregistry (here and in the sign stage): the
// keychain, and t (nil means DefaultTransport) as the one place requests
// are retried.
func RemoteOptions(ctx context.Context, k authn.Keychain, t http.RoundTripper) []remote.Option {
	if t == nil {
		t = DefaultTransport
	}
	return []remote.Option{
		remote.WithContext(ctx), remote.WithAuthFromKeychain(k),
		remote.WithTransport(t), remote.WithRetryBackoff(noRetry),
		remote.WithRetryStatusCodes(),
	}
}

type retryTransport struct {
	inner http.RoundTripper
	p     RetryPolicy
}

func (t *retryTransport) now() time.Time {
	if t.p.Now != nil {
		return t.p.Now()
	}
	return time.Now()
}

func (t *retryTransport) sleep(ctx context.Context, d time.Duration) error {
	if t.p.Sleep != nil {
		return t.p.Sleep(ctx, d)
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func (t *retryTransport) attempts() int {
	if t.p.MaxAttempts > 0 {
		return t.p.MaxAttempts
	}
	return defaultAttempts
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", "slipway/"+version.Version)
	}
	if req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/blobs/uploads/") && req.GetBody != nil {
		return t.patch(req)
	}
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") && req.URL.Query().Get("digest") != "" {
		return t.commit(req)
	}
	return t.do(req, t.now())
}

// commit is the PUT that ends a blob upload. When its answer was lost
// after the registry committed the blob, the retry finds the upload gone
// (404 or 400): then the blob is there, and the commit succeeded.
func (t *retryTransport) commit(req *http.Request) (*http.Response, error) {
	start := t.now()
	resp, err := t.do(req, start)
	if err != nil || (resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest) {
		return resp, err
	}
	dgst := req.URL.Query().Get("digest")
	i := strings.Index(req.URL.Path, "/blobs/uploads/")
	u := *req.URL
	u.Path, u.RawPath, u.RawQuery = req.URL.Path[:i]+"/blobs/"+dgst, "", ""
	h, herr := http.NewRequestWithContext(req.Context(), http.MethodHead, u.String(), nil)
	if herr != nil {
		return resp, nil
	}
	h.Header = authHeaders(req)
	hr, herr := t.do(h, start)
	if herr != nil {
		return resp, nil
	}
	hr.Body.Close()
	if hr.StatusCode != http.StatusOK {
		return resp, nil
	}
	resp.Body.Close()
	return &http.Response{
		Status: "201 Created", StatusCode: http.StatusCreated, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Docker-Content-Digest": {dgst}, "Location": {u.Path}},
		Body:    http.NoBody,
		Request: req,
	}, nil
}

// do tries req until it succeeds, fails for good, or the policy's bounds
// (counted from start) are reached.
func (t *retryTransport) do(req *http.Request, start time.Time) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.inner.RoundTrip(r)
		var why string
		var after time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !transient(err) {
				return nil, err
			}
			why = err.Error()
		case retryableStatus(resp.StatusCode):
			why = resp.Status
			after = retryAfter(resp.Header.Get("Retry-After"), t.now())
		default:
			if err := t.buffer(req, resp); err != nil {
				why = "the body was cut: " + err.Error()
				resp, err = nil, fmt.Errorf("reading the response to %s %s: %w", req.Method, redactedURL(req.URL), err)
				if !t.wait(req, start, attempt, why, 0, replayable) {
					return nil, err
				}
				continue
			}
			return resp, nil
		}
		if !t.wait(req, start, attempt, why, after, replayable) {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
	}
}

// wait decides whether attempt is followed by another, logs it and
// sleeps; false means give up (the caller returns what it has).
func (t *retryTransport) wait(req *http.Request, start time.Time, attempt int, why string, after time.Duration, replayable bool) bool {
	if t.p.MaxTime <= 0 || !replayable || attempt >= t.attempts() {
		return false
	}
	d := t.backoff(attempt)
	if after > 0 {
		d = after
	}
	if t.now().Add(d).Sub(start) > t.p.MaxTime {
		return false
	}
	if t.p.Log != nil {
		fmt.Fprintf(t.p.Log, "slipway: registry: %s %s failed (%s); try %d of %d in %s\n",
			req.Method, redactedURL(req.URL), oneLine(why), attempt+1, t.attempts(), d.Round(time.Millisecond))
	}
	return t.sleep(req.Context(), d) == nil
}

// backoff is the wait after the attempt-th try: Initial doubled per try,
// at most 30 s, less a jitter of up to half.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.p.Initial
	if d <= 0 {
		d = 500 * time.Millisecond
	}
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	j := rand.Float64
	if t.p.Jitter != nil {
		j = t.p.Jitter
	}
	return d - time.Duration(float64(d/2)*j())
}

// transient tells whether a transport error may pass: resets, refused
// connections, timeouts, a connection closed early. A TLS or certificate
// failure, or a host that does not resolve, will not.
func transient(err error) bool {
	var rh tls.RecordHeaderError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var hn x509.HostnameError
	var dns *net.DNSError
	switch {
	case errors.As(err, &rh), errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &hn):
		return false
	case errors.As(err, &dns):
		return !dns.IsNotFound
	}
	return true
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		if s > 0 {
			return time.Duration(s) * time.Second
		}
		return 0
	}
	if at, err := http.ParseTime(h); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// buffer makes a cut in an answer's body a retryable failure: a small
// body (manifests, configs, tokens, signature layers, and the registry's
// errors, a 404 included, which go-containerregistry reads to tell "not
// found" from a failure) is read whole now; a large blob body is read
// through a reader that resumes with a Range request where it was cut.
func (t *retryTransport) buffer(req *http.Request, resp *http.Response) error {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	if resp.ContentLength < 0 || resp.ContentLength > maxBuffered {
		if req.Method == http.MethodGet && resp.ContentLength > 0 && resp.StatusCode == http.StatusOK && strings.Contains(req.URL.Path, "/blobs/") {
			resp.Body = &resumingBody{t: t, req: req, body: resp.Body, size: resp.ContentLength}
		}
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && int64(len(b)) != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// resumingBody is a blob's body that, when the connection is lost in
// the middle, asks for the rest with a Range request (blobs are content
// addressed: the rest is the same bytes).
type resumingBody struct {
	t    *retryTransport
	req  *http.Request
	body io.ReadCloser
	size int64
	read int64
	// resumes bounds the Range requests of one body.
	resumes int
}

func (b *resumingBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.read += int64(n)
	if err == nil || errors.Is(err, io.EOF) && b.read == b.size {
		return n, err
	}
	if b.req.Context().Err() != nil || b.resumes >= b.t.attempts() {
		return n, err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	b.resumes++
	b.body.Close()
	r := b.req.Clone(b.req.Context())
	r.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.read))
	if b.t.p.Log != nil {
		fmt.Fprintf(b.t.p.Log, "slipway: registry: GET %s was cut at byte %d of %d (%s); resuming\n", redactedURL(b.req.URL), b.read, b.size, oneLine(err.Error()))
	}
	resp, rerr := b.t.do(r, b.t.now())
	if rerr != nil {
		b.body = io.NopCloser(errReader{err})
		return n, err
	}
	if resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		b.body = io.NopCloser(errReader{fmt.Errorf("%w (the registry answered the Range request with %s)", err, resp.Status)})
		return n, nil
	}
	b.body = resp.Body
	return n, nil
}

func (b *resumingBody) Close() error { return b.body.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// patch sends one chunk of a blob upload (the whole blob, as
// go-containerregistry uploads it) and, when it fails, asks the registry
// how much of it arrived (GET on the upload URL) and sends the rest from
// there; when the registry no longer knows the upload, it starts a new
// upload session and sends the chunk there. The caller gets the answer
// of the PATCH that succeeded, whose Location it commits.
func (t *retryTransport) patch(req *http.Request) (*http.Response, error) {
	start := t.now()
	total := req.ContentLength
	loc := req.URL
	var offset int64
	var last error
	for attempt := 1; ; attempt++ {
		r, err := t.chunk(req, loc, offset, attempt == 1)
		if err != nil {
			return nil, err
		}
		resp, err := t.inner.RoundTrip(r)
		if err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		if err == nil && !retryableStatus(resp.StatusCode) {
			return resp, nil // the caller reads the registry's error
		}
		after := time.Duration(0)
		why := ""
		if err != nil {
			if req.Context().Err() != nil || !transient(err) {
				return nil, err
			}
			why, last = err.Error(), err
		} else {
			why = resp.Status
			after = retryAfter(resp.Header.Get("Retry-After"), t.now())
			resp.Body.Close()
			last = fmt.Errorf("PATCH %s: %s", redactedURL(loc), resp.Status)
		}
		if !t.wait(req, start, attempt, why, after, true) {
			return nil, last
		}
		// Where does the upload stand?
		next, off, err := t.uploadStatus(req, loc, start)
		switch {
		case err != nil:
			return nil, err
		case next == nil:
			// The registry dropped the upload: a new session.
			if next, err = t.newUpload(req, loc, start); err != nil {
				return nil, err
			}
			offset = 0
		case total >= 0 && off >= total:
			// Everything arrived; only the answer was lost.
			return &http.Response{
				Status: "202 Accepted", StatusCode: http.StatusAccepted, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header:  http.Header{"Location": {next.String()}, "Range": {fmt.Sprintf("0-%d", off-1)}},
				Body:    http.NoBody,
				Request: req,
			}, nil
		default:
			offset = off
		}
		loc = next
	}
}

// chunk is req's PATCH to loc with its body from offset on (Content-Range
// set when resuming). The first try sends req's own body: opening a
// second one while it is open could wait forever (a remote layer's body
// holds one of go-containerregistry's bounded fetch slots).
func (t *retryTransport) chunk(req *http.Request, loc *url.URL, offset int64, first bool) (*http.Request, error) {
	if first {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, body, offset); err != nil {
			body.Close()
			return nil, fmt.Errorf("resuming the upload at byte %d: %w", offset, err)
		}
	}
	r := req.Clone(req.Context())
	r.URL = loc
	r.Host = loc.Host
	r.Body = body
	if req.ContentLength >= 0 {
		r.ContentLength = req.ContentLength - offset
	}
	if offset > 0 {
		r.Header.Set("Content-Range", fmt.Sprintf("%d-%d", offset, req.ContentLength-1))
	}
	return r, nil
}

// uploadStatus asks the registry for the state of the upload at loc
// (the distribution spec's GET on the upload URL): the URL to continue
// at and the number of bytes it holds; a nil URL when the registry does
// not know the upload any more.
func (t *retryTransport) uploadStatus(req *http.Request, loc *url.URL, start time.Time) (*url.URL, int64, error) {
	g, err := http.NewRequestWithContext(req.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	g.Header = authHeaders(req)
	resp, err := t.do(g, start)
	if err != nil {
		return nil, 0, fmt.Errorf("asking for the state of the upload: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return nil, 0, nil
	}
	next, err := location(loc, resp.Header.Get("Location"))
	if err != nil {
		return nil, 0, nil
	}
	var first, end int64
	if _, err := fmt.Sscanf(resp.Header.Get("Range"), "%d-%d", &first, &end); err != nil || first != 0 {
		return next, 0, nil
	}
	// "0-0" is both an empty upload and a one-byte one: send it again.
	if end == 0 {
		return next, 0, nil
	}
	return next, end + 1, nil
}

// newUpload starts a new upload session in loc's repository.
func (t *retryTransport) newUpload(req *http.Request, loc *url.URL, start time.Time) (*url.URL, error) {
	i := strings.Index(loc.Path, "/blobs/uploads/")
	u := *loc
	u.Path = loc.Path[:i] + "/blobs/uploads/"
	u.RawPath, u.RawQuery = "", ""
	p, err := http.NewRequestWithContext(req.Context(), http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, err
	}
	p.Header = authHeaders(req)
	resp, err := t.do(p, start)
	if err != nil {
		return nil, fmt.Errorf("starting the upload again: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("starting the upload again: %s", resp.Status)
	}
	return location(&u, resp.Header.Get("Location"))
}

// authHeaders are req's headers a follow-up request of the same upload
// needs (its credentials and User-Agent).
func authHeaders(req *http.Request) http.Header {
	h := http.Header{}
	for _, k := range []string{"Authorization", "User-Agent"} {
		if v := req.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

func location(base *url.URL, loc string) (*url.URL, error) {
	if loc == "" {
		return nil, errors.New("no Location")
	}
	u, err := base.Parse(loc)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// redactedURL is u without its query (upload state tokens) for a log.
func redactedURL(u *url.URL) string {
	return u.Host + u.Path
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
