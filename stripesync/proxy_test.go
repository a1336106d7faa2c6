package stripesync_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// stripeProxy is a recording, fault-injecting reverse proxy in front of
// stripe-mock. stripe-mock is stateless (it answers fixtures and ignores
// idempotency keys), so the proxy emulates Stripe's idempotency: the first
// 2xx answer for a key is stored and replayed, without forwarding, to every
// later request with that key and the same parameters (other parameters get
// Stripe's 400 idempotency_error). Hence "objects Stripe created" = distinct
// keys whose request reached stripe-mock and got a 2xx.
//
// Faults are queued per route ("POST /v1/invoices/*/finalize"); each
// request on the route consumes the next one. The proxy applies a fault
// before idempotency, like a network or a front end failing.
type stripeProxy struct {
	t        *testing.T
	upstream string
	srv      *httptest.Server
	done     chan struct{} // closed at cleanup: releases hanging requests

	mu     sync.Mutex
	log    []exchange
	stored map[string]storedResponse
	faults map[string][]fault
	hooks  map[string]func(n int)
	seen   map[string]int
}

// exchange is one request the proxy received, and what it did with it.
type exchange struct {
	Route   string // method and path with ids replaced by *
	Path    string
	Key     string // Idempotency-Key
	Form    url.Values
	Outcome string // forwarded, replayed, lost, reset, hang, respond, key-mismatch
	Status  int    // status sent (0 when the connection was dropped)
}

type storedResponse struct {
	path   string
	form   url.Values
	status int
	header http.Header
	body   []byte
}

type faultKind int

const (
	faultRespond faultKind = iota // answer status/body without forwarding
	faultReset                    // drop the connection with a TCP reset
	faultHang                     // never answer; the client times out
	faultLost                     // forward (Stripe applies it), store, then drop the connection
	faultPass                     // no fault: a placeholder to reach a later request
)

type fault struct {
	kind   faultKind
	status int
	header http.Header
	body   string
}

func respond(status int, body string, header ...string) fault {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return fault{kind: faultRespond, status: status, body: body, header: h}
}

var (
	rateLimited = respond(429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`, "Retry-After", "0")
	serverError = respond(500, `{"error":{"type":"api_error","message":"Something went wrong on Stripe's end."}}`)
	resetConn   = fault{kind: faultReset}
	hangConn    = fault{kind: faultHang}
	lostAnswer  = fault{kind: faultLost}
	pass        = fault{kind: faultPass}
)

func stripeError(status int, typ, code, msg string) fault {
	return respond(status, `{"error":{"type":"`+typ+`","code":"`+code+`","message":"`+msg+`"}}`)
}

func newStripeProxy(t *testing.T) *stripeProxy {
	t.Helper()
	p := &stripeProxy{
		t:        t,
		upstream: stripeMockURL,
		done:     make(chan struct{}),
		stored:   map[string]storedResponse{},
		faults:   map[string][]fault{},
		hooks:    map[string]func(int){},
		seen:     map[string]int{},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	t.Cleanup(func() { close(p.done) }) // runs first: frees hanging handlers
	return p
}

func (p *stripeProxy) URL() string { return p.srv.URL }

// inject queues faults for the next requests on route.
func (p *stripeProxy) inject(route string, faults ...fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[route] = append(p.faults[route], faults...)
}

// onRequest runs fn with the request's number on route (1, 2, ...) when
// each request on route arrives, before anything else is done with it.
func (p *stripeProxy) onRequest(route string, fn func(n int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hooks[route] = fn
}

// routeOf names a request by method and path, with object ids (anything
// holding an underscore after /v1/<resource>/) replaced by *.
func routeOf(method, path string) string {
	parts := strings.Split(path, "/")
	for i, s := range parts {
		if i >= 3 && strings.Contains(s, "_") {
			parts[i] = "*"
		}
	}
	return method + " " + strings.Join(parts, "/")
}

func (p *stripeProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	ex := exchange{Route: routeOf(r.Method, r.URL.Path), Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Form: form}

	p.mu.Lock()
	hook := p.hooks[ex.Route]
	p.seen[ex.Route]++
	n := p.seen[ex.Route]
	var f *fault
	if q := p.faults[ex.Route]; len(q) > 0 {
		f = &q[0]
		p.faults[ex.Route] = q[1:]
	}
	p.mu.Unlock()
	if hook != nil {
		hook(n)
	}

	record := func(outcome string, status int) {
		ex.Outcome, ex.Status = outcome, status
		p.mu.Lock()
		p.log = append(p.log, ex)
		p.mu.Unlock()
	}

	if f != nil && f.kind != faultPass {
		switch f.kind {
		case faultRespond:
			record("respond", f.status)
			for k, v := range f.header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
			return
		case faultReset:
			record("reset", 0)
			p.drop(w)
			return
		case faultHang:
			record("hang", 0)
			select {
			case <-r.Context().Done():
			case <-p.done:
			}
			return
		case faultLost:
			// Stripe applies the write; the answer never arrives.
			resp, outcome := p.answer(r, ex, body)
			if outcome == "forwarded" && resp.status < 300 {
				outcome = "lost" // applied by stripe-mock, answer dropped
			} else {
				outcome = "lost-" + outcome
			}
			record(outcome, 0)
			p.drop(w)
			return
		}
	}

	resp, outcome := p.answer(r, ex, body)
	record(outcome, resp.status)
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// answer replays the stored response for the request's idempotency key, or
// forwards the request to stripe-mock and stores a 2xx answer under the key.
func (p *stripeProxy) answer(r *http.Request, ex exchange, body []byte) (resp storedResponse, outcome string) {
	if ex.Key != "" {
		p.mu.Lock()
		st, ok := p.stored[ex.Key]
		p.mu.Unlock()
		if ok {
			if st.path != ex.Path || !reflect.DeepEqual(st.form, ex.Form) {
				return storedResponse{
					status: http.StatusBadRequest,
					header: http.Header{"Content-Type": {"application/json"}},
					body:   []byte(`{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`),
				}, "key-mismatch"
			}
			return st, "replayed"
		}
	}

	// Stripe finishes a write even when the client has gone away.
	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		p.t.Errorf("proxy: building upstream request: %v", err)
		return storedResponse{status: http.StatusBadGateway}, "proxy-error"
	}
	for k, v := range r.Header {
		if k != "Accept-Encoding" && k != "Connection" {
			out.Header[k] = v
		}
	}
	up, err := http.DefaultClient.Do(out)
	if err != nil {
		p.t.Errorf("proxy: forwarding %s: %v", ex.Route, err)
		return storedResponse{status: http.StatusBadGateway}, "proxy-error"
	}
	defer up.Body.Close()
	upBody, err := io.ReadAll(up.Body)
	if err != nil {
		p.t.Errorf("proxy: reading upstream answer: %v", err)
		return storedResponse{status: http.StatusBadGateway}, "proxy-error"
	}
	header := up.Header.Clone()
	for _, h := range []string{"Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection"} {
		header.Del(h)
	}
	resp = storedResponse{path: ex.Path, form: ex.Form, status: up.StatusCode, header: header, body: upBody}
	if ex.Key != "" && up.StatusCode < 300 {
		p.mu.Lock()
		if _, raced := p.stored[ex.Key]; !raced {
			p.stored[ex.Key] = resp
		}
		p.mu.Unlock()
	}
	return resp, "forwarded"
}

// drop closes the client's connection without an answer, with a TCP reset.
func (p *stripeProxy) drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		p.t.Errorf("proxy: hijacking: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// exchanges returns what the proxy saw, in order.
func (p *stripeProxy) exchanges() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.log...)
}

// on returns the exchanges on route.
func (p *stripeProxy) on(route string) []exchange {
	var out []exchange
	for _, ex := range p.exchanges() {
		if ex.Route == route {
			out = append(out, ex)
		}
	}
	return out
}

// applied returns, for route, the requests that reached stripe-mock and
// were applied (one per object Stripe would hold), in order.
func (p *stripeProxy) applied(route string) []exchange {
	var out []exchange
	for _, ex := range p.on(route) {
		if (ex.Outcome == "forwarded" && ex.Status < 300) || ex.Outcome == "lost" {
			out = append(out, ex)
		}
	}
	return out
}

// outcomes lists the outcomes seen on route, in order.
func (p *stripeProxy) outcomes(route string) []string {
	var out []string
	for _, ex := range p.on(route) {
		out = append(out, ex.Outcome)
	}
	return out
}

// routes lists the routes of all exchanges, in order.
func (p *stripeProxy) routes() []string {
	var out []string
	for _, ex := range p.exchanges() {
		out = append(out, ex.Route)
	}
	return out
}
