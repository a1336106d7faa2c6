package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// stripeRecorder is a reverse proxy in front of stripe-mock that counts the
// requests Tally makes, by method and path.
type stripeRecorder struct {
	URL string

	mu     sync.Mutex
	calls  map[string]int
	keys   map[string]bool
	refuse map[string]bool // calls answered 400 instead of forwarded
}

// refuseCall makes every later "METHOD /path" request fail with a Stripe
// 400 error, as Stripe does for a request it will never accept.
func (r *stripeRecorder) refuseCall(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse[call] = true
}

func newStripeRecorder(t *testing.T) *stripeRecorder {
	t.Helper()
	target, err := url.Parse(stripeMockURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &stripeRecorder{calls: map[string]int{}, keys: map[string]bool{}, refuse: map[string]bool{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		call := req.Method + " " + pathPattern(req.URL.Path)
		r.calls[call]++
		if k := req.Header.Get("Idempotency-Key"); k != "" {
			r.keys[k] = true
		}
		refuse := r.refuse[call]
		r.mu.Unlock()
		if refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"customer_tax_location_invalid","message":"The customer's location is not recognized."}}`))
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// pathPattern replaces object ids (cus_…, in_…, ii_…) in a Stripe path with
// {id}; the resources Tally uses have no underscore in their names.
func pathPattern(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.Contains(s, "_") {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// acceptAll stops refusing calls.
func (r *stripeRecorder) acceptAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse = map[string]bool{}
}

// count returns how many requests were made to "METHOD /path".
func (r *stripeRecorder) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[call]
}

func (r *stripeRecorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.calls))
	for k, v := range r.calls {
		out[k] = v
	}
	return out
}
