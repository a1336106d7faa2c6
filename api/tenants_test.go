package api_test

import (
	"net/http"
	"testing"
)

// otherTenantKey belongs to tenant t2 (newTenantRouter): t1's data is
// another tenant's to it.
const otherTenantKey = "tenant-key-of-t2-0123456789abcdef"

// TestRoutesByRole is every /v1 route × every role (SPEC §4, §6; the
// table of docs/keys.md): 2xx where the role may, 403 where it may not,
// and 404 for a tenant key asking for another tenant's data. A refused
// request reaches no backend.
func TestRoutesByRole(t *testing.T) {
	const (
		ok   = http.StatusOK
		acc  = http.StatusAccepted
		deny = http.StatusForbidden
		nf   = http.StatusNotFound
	)
	routes := []struct {
		method, target string
		// ingest, finance, provider (prov_acme), tenant t1, tenant t2
		want [5]int
	}{
		{http.MethodPost, "/v1/events", [5]int{acc, deny, deny, deny, deny}},
		{http.MethodGet, "/v1/pipeline/watermark", [5]int{ok, ok, deny, deny, deny}},
		{http.MethodPost, "/v1/pipeline/barrier", [5]int{ok, ok, deny, deny, deny}},
		{http.MethodGet, "/v1/tenants/t1/usage", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/tenants/t1/usage?from=2026-10-01&to=2026-11-01", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/invoices?tenant=t1", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/tenants/t1/entitlements", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/tenants/t1/entitlements/sso_scim", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/tenants/t1/entitlements/seats.learner", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/invoices?tenant=t1&period=2026-10", [5]int{deny, ok, deny, ok, nf}},
		// No tenant: finance lists every tenant; a tenant key its own.
		{http.MethodGet, "/v1/invoices", [5]int{deny, ok, deny, ok, ok}},
		{http.MethodPost, "/v1/periods/2026-10/close", [5]int{deny, ok, deny, deny, deny}},
		{http.MethodGet, "/v1/unbilled?period=2026-10", [5]int{deny, ok, deny, deny, deny}},
		{http.MethodGet, "/v1/reports?period=2026-10", [5]int{deny, ok, deny, deny, deny}},
		{http.MethodGet, "/v1/reports/trend?from=2026-09&to=2026-10", [5]int{deny, ok, deny, deny, deny}},
		{http.MethodPost, "/v1/payouts/run?as_of=2026-11-01T00:00:00Z", [5]int{deny, ok, deny, deny, deny}},
		{http.MethodGet, "/v1/payouts", [5]int{deny, ok, ok, deny, deny}},
		{http.MethodGet, "/v1/payouts?provider=prov_acme", [5]int{deny, ok, ok, deny, deny}},
		{http.MethodGet, "/v1/providers/prov_acme/balance", [5]int{deny, ok, ok, deny, deny}},
		// A tenant id that is also a provider id is still another party.
		{http.MethodGet, "/v1/providers/t1/balance", [5]int{deny, ok, nf, deny, deny}},
	}
	keys := [5]string{ingestKey, financeKey, providerKey, tenantKey, otherTenantKey}
	names := [5]string{"ingest", "finance", "provider", "tenant t1", "tenant t2"}
	rec := &recorder{}
	h := newFuzzRouter(t, rec)
	for _, rt := range routes {
		for i, key := range keys {
			before, barriers := rec.calls, rec.barriers
			w := serve(t, h, rt.method, rt.target, key)
			if w.Code != rt.want[i] {
				t.Errorf("%s %s as %s: %d %s; want %d", rt.method, rt.target, names[i], w.Code, w.Body, rt.want[i])
			}
			if w.Code >= 400 && rec.calls != before {
				t.Errorf("%s %s as %s: refused with %d after reaching the backend", rt.method, rt.target, names[i], w.Code)
			}
			// The provider routes decide their 404 behind the barrier
			// (providerScope, in the handler); every other refusal is
			// made before it.
			if w.Code >= 400 && rec.barriers != barriers && !(w.Code == nf && i == 2) {
				t.Errorf("%s %s as %s: refused with %d after waiting on the barrier", rt.method, rt.target, names[i], w.Code)
			}
		}
	}
}

// A tenant key reads exactly its own tenant: the backend is asked about
// t1 whatever the query leaves out, never about every tenant.
func TestTenantKeyReadsItsOwnTenant(t *testing.T) {
	rec := &recorder{}
	h := newFuzzRouter(t, rec)
	for _, target := range []string{"/v1/invoices", "/v1/invoices?tenant=t1", "/v1/invoices?period=2026-10", "/v1/tenants/t1/usage",
		"/v1/tenants/t1/entitlements", "/v1/tenants/t1/entitlements/sso_scim"} {
		*rec = recorder{}
		if w := serve(t, h, http.MethodGet, target, tenantKey); w.Code != http.StatusOK || rec.calls != 1 || rec.tenant != "t1" {
			t.Errorf("GET %s as tenant t1: %d, backend asked about %q (%d calls); want t1", target, w.Code, rec.tenant, rec.calls)
		}
	}
	// Finance without a tenant still lists every tenant ("").
	*rec = recorder{tenant: "unset"}
	if w := serve(t, h, http.MethodGet, "/v1/invoices", financeKey); w.Code != http.StatusOK || rec.tenant != "" {
		t.Errorf("finance GET /v1/invoices: %d, tenant %q; want every tenant", w.Code, rec.tenant)
	}
	// 404 looks the same for a tenant that exists and one that does not.
	a := serve(t, h, http.MethodGet, "/v1/tenants/t1/usage", otherTenantKey)
	b := serve(t, h, http.MethodGet, "/v1/tenants/no_such_tenant/usage", otherTenantKey)
	if a.Code != http.StatusNotFound || a.Body.String() != b.Body.String() {
		t.Errorf("another tenant: %d %q; an unknown one: %d %q; want the same 404", a.Code, a.Body, b.Code, b.Body)
	}
}
