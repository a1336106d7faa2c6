package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tally-billing/tally/pipeline"
)

// readRoutes are every route that reads or acts on stored events: each must
// pass the read-your-writes barrier first (SPEC §5).
var readRoutes = []struct{ method, target, key string }{
	{http.MethodGet, "/v1/tenants/t1/usage", financeKey},
	{http.MethodPost, "/v1/periods/2026-10/close", financeKey},
	{http.MethodGet, "/v1/invoices", financeKey},
	{http.MethodGet, "/v1/tenants/t1/usage", tenantKey},
	{http.MethodGet, "/v1/invoices?tenant=t1", tenantKey},
	{http.MethodGet, "/v1/unbilled?period=2026-10", financeKey},
	{http.MethodGet, "/v1/reports?period=2026-10", financeKey},
	{http.MethodGet, "/v1/reports/trend?from=2026-09&to=2026-10", financeKey},
	{http.MethodPost, "/v1/payouts/run?as_of=2026-11-01T00:00:00Z", financeKey},
	{http.MethodGet, "/v1/payouts", financeKey},
	{http.MethodGet, "/v1/payouts?provider=prov_acme", providerKey},
	{http.MethodGet, "/v1/providers/prov_acme/balance", providerKey},
	{http.MethodGet, "/v1/tenants/t1/entitlements", financeKey},
	{http.MethodGet, "/v1/tenants/t1/entitlements/sso_scim", financeKey},
}

func TestEveryReadPassesTheBarrier(t *testing.T) {
	rec := &recorder{}
	h := newFuzzRouter(t, rec)
	for _, rt := range readRoutes {
		before, calls := rec.barriers, rec.calls
		w := serve(t, h, rt.method, rt.target, rt.key)
		if w.Code != http.StatusOK {
			t.Errorf("%s %s: %d %s", rt.method, rt.target, w.Code, w.Body)
		}
		if rec.barriers != before+1 || rec.calls != calls+1 {
			t.Errorf("%s %s: %d barriers and %d backend calls, want 1 and 1", rt.method, rt.target, rec.barriers-before, rec.calls-calls)
		}
	}
	// Ingest is what the barrier waits for, never behind it.
	before := rec.barriers
	serve(t, h, http.MethodPost, "/v1/events", ingestKey)
	if rec.barriers != before {
		t.Error("ingest passed the barrier")
	}
}

func TestBehindAnswers503WithRetryAfterAndHowFar(t *testing.T) {
	rec := &recorder{behind: &pipeline.Behind{Waited: 30 * time.Second, Unstored: 1200, Unvalidated: 3}}
	h := newFuzzRouter(t, rec)
	for _, rt := range readRoutes {
		calls := rec.calls
		w := serve(t, h, rt.method, rt.target, rt.key)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "5" {
			t.Errorf("%s %s: %d, Retry-After %q; want 503 and 5", rt.method, rt.target, w.Code, w.Header().Get("Retry-After"))
		}
		if rec.calls != calls {
			t.Errorf("%s %s: the backend answered from a partial picture", rt.method, rt.target)
		}
		var body struct {
			Behind struct {
				Unstored, Unvalidated uint64
				WaitedMS              int64 `json:"waited_ms"`
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Behind.Unstored != 1200 || body.Behind.Unvalidated != 3 || body.Behind.WaitedMS != 30000 {
			t.Errorf("%s %s: behind %+v, want 1200 unstored, 3 unvalidated, 30000 ms", rt.method, rt.target, body.Behind)
		}
	}
}

func TestPipelineEndpoints(t *testing.T) {
	rec := &recorder{}
	h := newFuzzRouter(t, rec)
	for _, key := range []string{ingestKey, financeKey} {
		w := serve(t, h, http.MethodGet, "/v1/pipeline/watermark", key)
		var p pipeline.Progress
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusOK || p.Events.Last != 7 {
			t.Errorf("watermark: %d %s (%v)", w.Code, w.Body, err)
		}
		if w := serve(t, h, http.MethodPost, "/v1/pipeline/barrier", key); w.Code != http.StatusOK {
			t.Errorf("barrier: %d %s", w.Code, w.Body)
		}
	}
	if w := serve(t, h, http.MethodGet, "/v1/pipeline/watermark", providerKey); w.Code != http.StatusForbidden {
		t.Errorf("a provider key read the watermark: %d", w.Code)
	}
	rec.behind = &pipeline.Behind{Unstored: 1}
	if w := serve(t, h, http.MethodPost, "/v1/pipeline/barrier", ingestKey); w.Code != http.StatusServiceUnavailable {
		t.Errorf("barrier behind: %d, want 503", w.Code)
	}
}
