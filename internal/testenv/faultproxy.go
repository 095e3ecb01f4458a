package testenv

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Fault is a transient fault a FaultProxy injects into one request.
type Fault string

// The faults registries and their load balancers produce.
const (
	// NoFault forwards the request.
	NoFault Fault = ""
	// Unavailable answers 503 without forwarding (a load balancer with no
	// healthy backend).
	Unavailable Fault = "503"
	// TooMany answers 429 with Retry-After: 1 without forwarding (rate
	// limiting, as GHCR and Docker Hub do).
	TooMany Fault = "429"
	// Reset resets the connection without forwarding.
	Reset Fault = "reset"
	// Cut forwards the request, then sends the answer's headers and half
	// its body and resets the connection: the registry did the work, the
	// client lost the answer.
	Cut Fault = "cut"
)

// Faults are the faults a FaultProxy knows, in a fixed order.
var Faults = []Fault{Unavailable, TooMany, Reset, Cut}

// Request kinds FaultProxy tells apart (Kind).
var RequestKinds = []string{
	"ping", "token", "manifest-head", "manifest-get", "manifest-put-digest", "manifest-put-tag",
	"blob-head", "blob-get", "upload-start", "upload-patch", "upload-put", "upload-status", "other",
}

var (
	manifestPath = regexp.MustCompile(`^/v2/.+/manifests/([^/]+)$`)
	uploadPath   = regexp.MustCompile(`^/v2/.+/blobs/uploads/[^/]+$`)
)

// Kind classifies a registry request for fault plans and logs.
func Kind(method, path string) string {
	switch {
	case path == "/v2/" || path == "/v2":
		return "ping"
	case strings.HasPrefix(path, "/token") || strings.HasPrefix(path, "/auth"):
		return "token"
	case manifestPath.MatchString(path):
		ref := manifestPath.FindStringSubmatch(path)[1]
		switch method {
		case http.MethodHead:
			return "manifest-head"
		case http.MethodGet:
			return "manifest-get"
		case http.MethodPut:
			if strings.HasPrefix(ref, "sha256:") {
				return "manifest-put-digest"
			}
			return "manifest-put-tag"
		}
	case strings.HasSuffix(path, "/blobs/uploads/") && method == http.MethodPost:
		return "upload-start"
	case uploadPath.MatchString(path):
		switch method {
		case http.MethodPatch:
			return "upload-patch"
		case http.MethodPut:
			return "upload-put"
		case http.MethodGet:
			return "upload-status"
		}
	case strings.Contains(path, "/blobs/sha256:"):
		switch method {
		case http.MethodHead:
			return "blob-head"
		case http.MethodGet:
			return "blob-get"
		}
	}
	return "other"
}

// FaultPlan decides the fault of each request: kind is Kind's, n counts
// the requests with the same method and path (upload session IDs left
// out) before this one, so the decision does not depend on the order in
// which parallel requests arrive.
type FaultPlan func(kind, key string, n int) Fault

// FirstOfEach injects f into the first request of each kind.
func FirstOfEach(f Fault, kinds ...string) FaultPlan {
	var mu sync.Mutex
	done := map[string]bool{}
	return func(kind, _ string, _ int) Fault {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(kinds, kind) || done[kind] {
			return NoFault
		}
		done[kind] = true
		return f
	}
}

// Random injects one of faults into a rate of the requests, chosen by a
// hash of seed, the request's method and path, and its occurrence:
// deterministic for a seed.
func Random(seed uint64, rate float64, faults ...Fault) FaultPlan {
	return func(_, key string, n int) Fault {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d %s %d", seed, key, n)
		x := h.Sum64()
		if float64(x%10000)/10000 >= rate {
			return NoFault
		}
		return faults[(x/10000)%uint64(len(faults))]
	}
}

// ProxyEntry is one request through a FaultProxy.
type ProxyEntry struct {
	Method, Path, Kind string
	Fault              Fault
	// Status is the registry's answer (0 when not forwarded).
	Status int
}

// FaultProxy is a reverse proxy on 127.0.0.1 in front of a registry that
// injects transient faults by a FaultPlan and logs every request.
type FaultProxy struct {
	// Host is the proxy's host:port, to use as the registry.
	Host string

	upstream string
	plan     FaultPlan
	client   *http.Client

	mu     sync.Mutex
	counts map[string]int
	log    []ProxyEntry
}

// StartFaultProxy starts a FaultProxy in front of the registry at
// upstream (host:port, plain HTTP), stopped when the test ends.
func StartFaultProxy(t testing.TB, upstream string, plan FaultPlan) *FaultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{
		Host: l.Addr().String(), upstream: upstream, plan: plan, counts: map[string]int{},
		client: &http.Client{
			Transport:     &http.Transport{DisableCompression: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return p
}

var uploadID = regexp.MustCompile(`/blobs/uploads/[^/]+$`)

// Requests returns every request so far.
func (p *FaultProxy) Requests() []ProxyEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// Faulted returns the kinds of the requests that got a fault.
func (p *FaultProxy) Faulted() map[string]bool {
	kinds := map[string]bool{}
	for _, r := range p.Requests() {
		if r.Fault != NoFault {
			kinds[r.Kind] = true
		}
	}
	return kinds
}

// SetPlan replaces the fault plan (nil: no faults).
func (p *FaultProxy) SetPlan(plan FaultPlan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = plan
	p.counts = map[string]int{}
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := Kind(r.Method, r.URL.Path)
	key := r.Method + " " + uploadID.ReplaceAllString(r.URL.Path, "/blobs/uploads/*")
	p.mu.Lock()
	n := p.counts[key]
	p.counts[key]++
	f := NoFault
	if p.plan != nil {
		f = p.plan(kind, key, n)
	}
	i := len(p.log)
	p.log = append(p.log, ProxyEntry{Method: r.Method, Path: r.URL.Path, Kind: kind, Fault: f})
	p.mu.Unlock()

	switch f {
	case Unavailable:
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault proxy"}]}`, http.StatusServiceUnavailable)
		return
	case TooMany:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected by the fault proxy"}]}`, http.StatusTooManyRequests)
		return
	case Reset:
		reset(w)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.upstream+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host // the registry's Location headers name the proxy
	out.ContentLength = r.ContentLength
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.mu.Lock()
	p.log[i].Status = resp.StatusCode
	p.mu.Unlock()
	if f == Cut {
		cut(w, resp)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// cut writes resp's status line, headers and half its body, then resets
// the connection.
func cut(w http.ResponseWriter, resp *http.Response) {
	body, _ := io.ReadAll(resp.Body)
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	defer c.Close()
	if len(body) == 0 {
		return // nothing to cut: the answer is lost whole
	}
	bw := bufio.NewWriter(c)
	fmt.Fprintf(bw, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
	_ = resp.Header.Write(bw)
	bw.WriteString("\r\n")
	bw.Write(body[:len(body)/2])
	_ = bw.Flush()
}
