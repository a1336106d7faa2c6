package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/tally-billing/tally/entitlements"
)

// The recorder's entitlement backend: it knows one capability, sso_scim,
// and keeps the position it was asked to wait for.
var knownCapabilities = []string{"sso_scim", "seats.learner"}

func (r *recorder) Entitlements(_ context.Context, tenant string, seq uint64) (*entitlements.View, error) {
	r.calls++
	r.seq, r.tenant = seq, tenant
	return &entitlements.View{Tenant: tenant, Position: seq}, nil
}

func (r *recorder) Check(_ context.Context, tenant, capability string, seq uint64) (entitlements.CheckResult, error) {
	r.calls++
	r.seq, r.tenant = seq, tenant
	if !slices.Contains(knownCapabilities, capability) {
		return entitlements.CheckResult{}, &entitlements.UnknownCapabilityError{Capability: capability, Known: knownCapabilities}
	}
	return entitlements.CheckResult{Capability: capability, Allowed: true, Value: "included", Reason: entitlements.ReasonIncluded}, nil
}

// TestEntitlementReads: the reads wait for the position the barrier found
// stored (7 in the recorder), a check answers its capability, an unknown
// one is a 404 listing every capability; the finance key and the
// tenant's own key read (the tenant keys: TestRoutesByRole).
func TestEntitlementReads(t *testing.T) {
	rec := &recorder{}
	h := newFuzzRouter(t, rec)

	w := serve(t, h, http.MethodGet, "/v1/tenants/acme/entitlements/sso_scim", financeKey)
	var c entitlements.CheckResult
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || w.Code != http.StatusOK || c.Capability != "sso_scim" || !c.Allowed || rec.seq != 7 {
		t.Errorf("check: %d %s, waited for %d (%v)", w.Code, w.Body, rec.seq, err)
	}

	rec.seq = 0
	w = serve(t, h, http.MethodGet, "/v1/tenants/acme/entitlements", financeKey)
	var v entitlements.View
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != http.StatusOK || v.Tenant != "acme" || rec.seq != 7 {
		t.Errorf("view: %d %s, waited for %d (%v)", w.Code, w.Body, rec.seq, err)
	}

	w = serve(t, h, http.MethodGet, "/v1/tenants/acme/entitlements/teleport", financeKey)
	var unknown struct {
		Error        string
		Capabilities []string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &unknown); err != nil || w.Code != http.StatusNotFound || !slices.Equal(unknown.Capabilities, knownCapabilities) {
		t.Errorf("unknown capability: %d %s (%v)", w.Code, w.Body, err)
	}

	for _, key := range []string{ingestKey, providerKey} {
		if w := serve(t, h, http.MethodGet, "/v1/tenants/acme/entitlements", key); w.Code != http.StatusForbidden {
			t.Errorf("key %s read entitlements: %d", key, w.Code)
		}
	}
}
