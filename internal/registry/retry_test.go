package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// fakeClock is the policy's clock: sleeping advances it, and records the
// wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) policy(maxTime time.Duration, log io.Writer) RetryPolicy {
	return RetryPolicy{MaxTime: maxTime, Log: log, Now: c.Now, Sleep: c.Sleep, Jitter: func() float64 { return 0 }}
}

// Against the real registry behind the fault proxy, the first request of
// every kind a push, a tag, a copy and a read make fails, with each kind
// of fault in turn; everything still lands, and each retry is one log
// line.
func TestSurvivesTheFirstFaultOfEachKind(t *testing.T) {
	upstream := testenv.StartRegistry(t)
	dir, dgst := randomLayout(t, 64<<10)
	kinds := []string{"ping", "manifest-head", "manifest-get", "manifest-put-digest", "manifest-put-tag",
		"blob-head", "upload-start", "upload-patch", "upload-put", "upload-status"}
	for _, f := range testenv.Faults {
		t.Run(string(f), func(t *testing.T) {
			proxy := testenv.StartFaultProxy(t, upstream, testenv.FirstOfEach(f, kinds...))
			var log bytes.Buffer
			clock := newClock()
			tr := clock.policy(time.Minute, &syncWriter{w: &log}).Transport(nil)
			k := NewKeychain(nil, authn.NewMultiKeychain())
			ctx := context.Background()
			repo := proxy.Host + "/faults/" + string(f)
			r := mustRef(t, repo+":x").Context()
			up, err := (&Publisher{Keychain: k, Transport: tr}).StartUpload(ctx, dir, r)
			if err != nil {
				t.Fatal(err)
			}
			if err := up.Finish(ctx, dgst); err != nil {
				t.Fatalf("push: %v\n%s", err, log.String())
			}
			if err := (&Tagger{Keychain: k, Transport: tr}).Tag(ctx, r.Digest(dgst.String()), []name.Tag{r.Tag("v1")}); err != nil {
				t.Fatalf("tag: %v\n%s", err, log.String())
			}
			ref, _ := name.NewTag(repo + ":v1")
			idx, err := remote.Index(ref, RemoteOptions(ctx, k, tr)...)
			if err != nil {
				t.Fatalf("read: %v\n%s", err, log.String())
			}
			if got, _ := idx.Digest(); got != dgst {
				t.Errorf("%s = %s, want %s", ref, got, dgst)
			}
			// What the registry holds, read directly.
			direct, _ := name.NewTag(upstream + "/faults/" + string(f) + ":v1")
			if d, err := remote.Head(direct); err != nil || d.Digest != dgst {
				t.Errorf("the registry has %v (%v), want %s", d, err, dgst)
			}
			faulted := proxy.Faulted()
			for _, k := range []string{"ping", "manifest-get", "manifest-put-digest", "manifest-put-tag", "blob-head", "upload-start", "upload-patch", "upload-put"} {
				if !faulted[k] {
					t.Errorf("no %s request got the fault: %v", k, proxy.Requests())
				}
			}
			// One line per retry; Go's transport itself resends an
			// idempotent request whose reused connection closed before
			// any answer, so some faults need no retry of slipway's.
			if n := strings.Count(log.String(), "\n"); n == 0 || n > len(faulted) {
				t.Errorf("%d retry lines for %d faults:\n%s", n, len(faulted), log.String())
			}
			for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
				if !strings.Contains(line, "slipway: registry: ") || strings.Contains(line, "_state") {
					t.Errorf("retry line %q: want what, why and the attempt, without the upload state", line)
				}
			}
		})
	}
}

// At 20 % random faults on every request, pushes, tags and reads of 20
// images all land, each retried request within the policy's bounds.
func TestRandomFaults(t *testing.T) {
	upstream := testenv.StartRegistry(t)
	dir, dgst := randomLayout(t, 16<<10)
	k := NewKeychain(nil, authn.NewMultiKeychain())
	ctx := context.Background()
	faults := 0
	for seed := range uint64(20) {
		proxy := testenv.StartFaultProxy(t, upstream, testenv.Random(seed, 0.2, testenv.Faults...))
		clock := newClock()
		tr := clock.policy(time.Minute, io.Discard).Transport(nil)
		repo := fmt.Sprintf("%s/random/s%d", proxy.Host, seed)
		r := mustRef(t, repo+":x").Context()
		up, err := (&Publisher{Keychain: k, Transport: tr}).StartUpload(ctx, dir, r)
		if err == nil {
			err = up.Finish(ctx, dgst)
		}
		if err == nil {
			err = (&Tagger{Keychain: k, Transport: tr}).Tag(ctx, r.Digest(dgst.String()), []name.Tag{r.Tag("v1")})
		}
		if err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
		for _, r := range proxy.Requests() {
			if r.Fault != testenv.NoFault {
				faults++
			}
		}
	}
	if faults < 20 {
		t.Errorf("only %d faults injected in 20 runs", faults)
	}
	t.Logf("%d faults injected over 20 pushes", faults)
}

// Retry-After is honoured (seconds and HTTP dates), the backoff doubles
// without it, and retries stop at the policy's time bound.
func TestRetryPolicy(t *testing.T) {
	var calls atomic.Int32
	var answers []func(w http.ResponseWriter)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		if i < len(answers) {
			answers[i](w)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	status := func(code int, retryAfter string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(code)
		}
	}
	get := func(tr http.RoundTripper) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
		return tr.RoundTrip(req)
	}
	t.Run("retry-after and backoff", func(t *testing.T) {
		calls.Store(0)
		clock := newClock()
		date := clock.now.Add(7 * time.Second).Format(http.TimeFormat)
		answers = []func(http.ResponseWriter){status(429, "3"), status(503, date), status(502, ""), status(504, "")}
		var log bytes.Buffer
		resp, err := get(clock.policy(time.Minute, &log).Transport(nil))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v, %v", resp, err)
		}
		// The date is 7 s after the first try, 4 s after the second.
		want := []time.Duration{3 * time.Second, 4 * time.Second, 2 * time.Second, 4 * time.Second}
		if !slices.Equal(clock.sleeps, want) {
			t.Errorf("waits %v, want %v", clock.sleeps, want)
		}
		if n := strings.Count(log.String(), "\n"); n != 4 || !strings.Contains(log.String(), "429 Too Many Requests") || !strings.Contains(log.String(), "try 2 of 8") {
			t.Errorf("log:\n%s", log.String())
		}
	})
	t.Run("bounded by max time", func(t *testing.T) {
		calls.Store(0)
		clock := newClock()
		answers = slices.Repeat([]func(http.ResponseWriter){status(503, "")}, 20)
		resp, err := get(clock.policy(5*time.Second, io.Discard).Transport(nil))
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("got %v, %v; want the last 503", resp, err)
		}
		var total time.Duration
		for _, d := range clock.sleeps {
			total += d
		}
		if total > 5*time.Second || len(clock.sleeps) != 3 {
			t.Errorf("waited %v over %d retries, want 0.5+1+2 s within 5 s", clock.sleeps, len(clock.sleeps))
		}
	})
	t.Run("a Retry-After beyond the bound is not waited for", func(t *testing.T) {
		calls.Store(0)
		clock := newClock()
		answers = []func(http.ResponseWriter){status(429, "3600")}
		resp, err := get(clock.policy(time.Minute, io.Discard).Transport(nil))
		if err != nil || resp.StatusCode != 429 || len(clock.sleeps) != 0 {
			t.Errorf("got %v, %v after %v; want the 429 at once", resp, err, clock.sleeps)
		}
	})
	t.Run("an error answer cut in its body", func(t *testing.T) {
		// go-containerregistry reads a 404's body to tell "no signatures
		// yet" from a failure: a cut there is retried like any other.
		calls.Store(0)
		clock := newClock()
		const body = `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`
		cut := func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, body[:10])
			w.(http.Flusher).Flush()
			reset(w)
		}
		answers = []func(http.ResponseWriter){cut, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, body)
		}}
		resp, err := get(clock.policy(time.Minute, io.Discard).Transport(nil))
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("got %v, %v", resp, err)
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != body || calls.Load() != 2 {
			t.Errorf("body %q, %v after %d calls; want the whole error after 2", b, err, calls.Load())
		}
	})
	t.Run("off", func(t *testing.T) {
		calls.Store(0)
		clock := newClock()
		answers = []func(http.ResponseWriter){status(503, "")}
		resp, err := get(clock.policy(0, io.Discard).Transport(nil))
		if err != nil || resp.StatusCode != 503 || calls.Load() != 1 {
			t.Errorf("got %v, %v after %d calls; want one try", resp, err, calls.Load())
		}
	})
	t.Run("user agent", func(t *testing.T) {
		var ua string
		s := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ua = r.UserAgent() }))
		defer s.Close()
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		if _, err := newClock().policy(time.Minute, nil).Transport(nil).RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ua, "slipway/") {
			t.Errorf("User-Agent = %q", ua)
		}
	})
}

// A blob upload whose PATCH was cut resumes at the offset the registry
// reports (the distribution spec's upload status), with a Content-Range.
// No registry available here keeps such an upload (distribution cancels
// an upload whose state token is stale), so this one follows the spec.
func TestPatchResumesAtTheRegistrysOffset(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPatch:
			ranges = append(ranges, r.Header.Get("Content-Range"))
			b, _ := io.ReadAll(r.Body)
			if len(ranges) == 1 {
				// Keep the first 1000 bytes, then lose the connection.
				got = append(got, b[:1000]...)
				reset(w)
				return
			}
			got = append(got, b...)
			w.Header().Set("Location", "/v2/a/blobs/uploads/1?n=3")
			w.WriteHeader(http.StatusAccepted)
		case http.MethodGet:
			w.Header().Set("Location", "/v2/a/blobs/uploads/1?n=2")
			w.Header().Set("Range", fmt.Sprintf("0-%d", len(got)-1))
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	blob := bytes.Repeat([]byte("0123456789"), 400)
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v2/a/blobs/uploads/1?n=1", bytes.NewReader(blob))
	clock := newClock()
	resp, err := clock.policy(time.Minute, io.Discard).Transport(nil).RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("got %v, %v", resp, err)
	}
	if resp.Header.Get("Location") != "/v2/a/blobs/uploads/1?n=3" {
		t.Errorf("Location = %q, want the last PATCH's", resp.Header.Get("Location"))
	}
	if !bytes.Equal(got, blob) {
		t.Errorf("the registry holds %d bytes, want the blob's %d", len(got), len(blob))
	}
	if want := []string{"", "1000-3999"}; !slices.Equal(ranges, want) {
		t.Errorf("Content-Ranges %q, want %q", ranges, want)
	}
}

// reset loses the connection of w.
func reset(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		c.Close()
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
