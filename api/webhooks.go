package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/webhooks"
)

// Webhooks manages endpoints and reads and retries deliveries
// (webhooks.Service). Every call is limited to what the scope sees: a
// finance key sees every endpoint, a tenant key only its tenant's.
type Webhooks interface {
	Register(ctx context.Context, sc webhooks.Scope, req webhooks.NewEndpoint) (webhooks.Endpoint, error)
	Endpoints(ctx context.Context, sc webhooks.Scope) ([]webhooks.Endpoint, error)
	Endpoint(ctx context.Context, sc webhooks.Scope, id string) (webhooks.Endpoint, error)
	DeleteEndpoint(ctx context.Context, sc webhooks.Scope, id string) error
	RotateSecret(ctx context.Context, sc webhooks.Scope, id string) (webhooks.Endpoint, error)
	Deliveries(ctx context.Context, sc webhooks.Scope, f webhooks.DeliveryFilter) ([]webhooks.Delivery, error)
	Retry(ctx context.Context, sc webhooks.Scope, deliveryID string) (webhooks.Task, error)
}

// mountWebhooks mounts SPEC §7's endpoints API under r (already
// authenticated).
func mountWebhooks(r chi.Router, w Webhooks) {
	// A finance key manages every endpoint; a tenant key its own
	// tenant's (webhookScope), where its plan has webhooks (checked by
	// the service: webhooks.Config.Entitled).
	hooks := r.With(require(auth.RoleFinance, auth.RoleTenant))
	hooks.Get("/webhooks/event-types", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]any{"event_types": webhooks.Catalogue()})
	})
	hooks.Post("/webhooks/endpoints", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		var req webhooks.NewEndpoint
		dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(rw, http.StatusBadRequest, "reading the endpoint: "+err.Error())
			return
		}
		e, err := w.Register(r.Context(), sc, req)
		if err != nil {
			writeWebhookError(rw, err)
			return
		}
		writeJSON(rw, http.StatusCreated, withSecret(e))
	}))
	hooks.Get("/webhooks/endpoints", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		es, err := w.Endpoints(r.Context(), sc)
		if err != nil {
			writeWebhookError(rw, err)
			return
		}
		if es == nil {
			es = []webhooks.Endpoint{}
		}
		writeJSON(rw, http.StatusOK, map[string]any{"endpoints": es})
	}))
	hooks.Get("/webhooks/endpoints/{id}", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		e, err := w.Endpoint(r.Context(), sc, chi.URLParam(r, "id"))
		if err != nil {
			writeWebhookError(rw, err)
			return
		}
		writeJSON(rw, http.StatusOK, e)
	}))
	hooks.Delete("/webhooks/endpoints/{id}", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		if err := w.DeleteEndpoint(r.Context(), sc, chi.URLParam(r, "id")); err != nil {
			writeWebhookError(rw, err)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	hooks.Post("/webhooks/endpoints/{id}/rotate-secret", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		e, err := w.RotateSecret(r.Context(), sc, chi.URLParam(r, "id"))
		if err != nil {
			writeWebhookError(rw, err)
			return
		}
		writeJSON(rw, http.StatusOK, withSecret(e))
	}))
	hooks.Get("/webhooks/deliveries", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		q := r.URL.Query()
		ds, err := w.Deliveries(r.Context(), sc, webhooks.DeliveryFilter{EndpointID: q.Get("endpoint"), Status: q.Get("status")})
		if err != nil {
			writeWebhookError(rw, err)
			return
		}
		if ds == nil {
			ds = []webhooks.Delivery{}
		}
		writeJSON(rw, http.StatusOK, map[string]any{"deliveries": ds})
	}))
	hooks.Post("/webhooks/deliveries/{id}/retry", withScope(func(rw http.ResponseWriter, r *http.Request, sc webhooks.Scope) {
		t, err := w.Retry(r.Context(), sc, chi.URLParam(r, "id"))
		if err != nil {
			writeWebhookError(rw, err)
			return
		}
		writeJSON(rw, http.StatusAccepted, map[string]any{"delivery_id": t.DeliveryID, "message_id": t.Message.ID, "endpoint_id": t.EndpointID})
	}))
}

// webhookScope is what the caller's key sees: everything for finance,
// its own tenant's endpoints and deliveries for a tenant key (another
// tenant's are 404).
func webhookScope(p auth.Principal) (webhooks.Scope, bool) {
	switch {
	case p.Role == auth.RoleFinance:
		return webhooks.Scope{}, true
	case p.Role == auth.RoleTenant && p.Tenant != "":
		return webhooks.Scope{Tenant: p.Tenant}, true
	}
	return webhooks.Scope{}, false
}

func withScope(h func(http.ResponseWriter, *http.Request, webhooks.Scope)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		sc, ok := webhookScope(p)
		if !ok {
			writeError(rw, http.StatusForbidden, "this key may not manage webhooks")
			return
		}
		h(rw, r, sc)
	}
}

// endpointWithSecret is an endpoint as registration and rotation answer
// it: the only time the secret is shown.
type endpointWithSecret struct {
	webhooks.Endpoint
	Secret string `json:"secret"`
}

func withSecret(e webhooks.Endpoint) endpointWithSecret {
	return endpointWithSecret{Endpoint: e, Secret: e.Secret}
}

func writeWebhookError(rw http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, webhooks.ErrInvalid):
		writeError(rw, http.StatusBadRequest, err.Error())
	case errors.Is(err, webhooks.ErrNotEntitled):
		writeError(rw, http.StatusForbidden, err.Error())
	case errors.Is(err, webhooks.ErrNotFound):
		writeError(rw, http.StatusNotFound, err.Error())
	default:
		writeError(rw, http.StatusServiceUnavailable, err.Error())
	}
}
