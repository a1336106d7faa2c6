package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/api"
	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/webhooks"
)

// scopeRecorder is a Webhooks that records the scope of each call and
// answers "not found" for an endpoint outside it (as webhooks.Service).
type scopeRecorder struct{ scopes []webhooks.Scope }

func (s *scopeRecorder) note(sc webhooks.Scope) { s.scopes = append(s.scopes, sc) }

func (s *scopeRecorder) Register(_ context.Context, sc webhooks.Scope, _ webhooks.NewEndpoint) (webhooks.Endpoint, error) {
	s.note(sc)
	return webhooks.Endpoint{ID: "ep_1", Tenant: sc.Tenant, Secret: "whsec_x"}, nil
}

func (s *scopeRecorder) Endpoints(_ context.Context, sc webhooks.Scope) ([]webhooks.Endpoint, error) {
	s.note(sc)
	return nil, nil
}

func (s *scopeRecorder) Endpoint(_ context.Context, sc webhooks.Scope, id string) (webhooks.Endpoint, error) {
	s.note(sc)
	if sc.Tenant != "" && sc.Tenant != "t1" {
		return webhooks.Endpoint{}, webhooks.ErrNotFound
	}
	return webhooks.Endpoint{ID: id, Tenant: "t1"}, nil
}

func (s *scopeRecorder) DeleteEndpoint(ctx context.Context, sc webhooks.Scope, id string) error {
	_, err := s.Endpoint(ctx, sc, id)
	return err
}

func (s *scopeRecorder) RotateSecret(ctx context.Context, sc webhooks.Scope, id string) (webhooks.Endpoint, error) {
	return s.Endpoint(ctx, sc, id)
}

func (s *scopeRecorder) Deliveries(_ context.Context, sc webhooks.Scope, _ webhooks.DeliveryFilter) ([]webhooks.Delivery, error) {
	s.note(sc)
	return nil, nil
}

func (s *scopeRecorder) Retry(ctx context.Context, sc webhooks.Scope, _ string) (webhooks.Task, error) {
	_, err := s.Endpoint(ctx, sc, "ep_t1")
	return webhooks.Task{}, err
}

// TestWebhookRoutesByRole: finance and tenant keys manage webhooks,
// a tenant key within its own tenant's scope (another tenant's endpoint
// is 404); ingest and provider keys are 403.
func TestWebhookRoutesByRole(t *testing.T) {
	keys, err := auth.Parse([]byte(`{"keys":[
		{"name":"fin","role":"finance","key":"` + financeKey + `"},
		{"name":"tutor","role":"ingest","key":"` + ingestKey + `"},
		{"name":"acme","role":"provider","provider":"prov_acme","key":"` + providerKey + `"},
		{"name":"t1-portal","role":"tenant","tenant":"t1","key":"` + tenantKey + `"},
		{"name":"t2-portal","role":"tenant","tenant":"t2","key":"` + otherTenantKey + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	hooks := &scopeRecorder{}
	rec := &recorder{}
	h, err := api.NewRouter(api.Config{Keys: keys, Ingest: http.NotFoundHandler(), Usage: rec, Billing: rec, Marketplace: rec,
		Reports: rec, Trends: rec, Entitlements: rec, Barrier: rec, Webhooks: hooks, Ready: func(context.Context) error { return nil },
		Metrics: http.NotFoundHandler(), Now: func() time.Time { return apiNow }, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	const (
		ok   = http.StatusOK
		deny = http.StatusForbidden
		nf   = http.StatusNotFound
	)
	routes := []struct {
		method, target string
		want           [5]int // ingest, finance, provider, tenant t1, tenant t2
	}{
		{http.MethodGet, "/v1/webhooks/endpoints", [5]int{deny, ok, deny, ok, ok}},
		{http.MethodGet, "/v1/webhooks/endpoints/ep_t1", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodDelete, "/v1/webhooks/endpoints/ep_t1", [5]int{deny, http.StatusNoContent, deny, http.StatusNoContent, nf}},
		{http.MethodPost, "/v1/webhooks/endpoints/ep_t1/rotate-secret", [5]int{deny, ok, deny, ok, nf}},
		{http.MethodGet, "/v1/webhooks/deliveries", [5]int{deny, ok, deny, ok, ok}},
		{http.MethodPost, "/v1/webhooks/deliveries/dlv_1/retry", [5]int{deny, http.StatusAccepted, deny, http.StatusAccepted, nf}},
		{http.MethodGet, "/v1/webhooks/event-types", [5]int{deny, ok, deny, ok, ok}},
	}
	all := [5]string{ingestKey, financeKey, providerKey, tenantKey, otherTenantKey}
	wantScope := [5]string{"", "", "", "t1", "t2"}
	for _, rt := range routes {
		for i, key := range all {
			hooks.scopes = nil
			w := serve(t, h, rt.method, rt.target, key)
			if w.Code != rt.want[i] {
				t.Errorf("%s %s with key %d: %d %s, want %d", rt.method, rt.target, i, w.Code, w.Body, rt.want[i])
			}
			for _, sc := range hooks.scopes {
				if sc.Tenant != wantScope[i] {
					t.Errorf("%s %s with key %d: scope %+v", rt.method, rt.target, i, sc)
				}
			}
		}
	}
}
