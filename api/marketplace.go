package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/payouts"
)

// Marketplace answers balances and runs payouts.
type Marketplace interface {
	Balances(ctx context.Context, provider string, asOf time.Time) (payouts.Balances, error)
	RunPayouts(ctx context.Context, asOf time.Time) (payouts.RunResult, error)
	Payouts(ctx context.Context, provider string) ([]payouts.Payout, error)
}

// providerScope answers 404 to a provider key asking for another
// provider's data (not 403: it does not even learn that the provider
// exists); finance keys see everything; other keys get 403.
func providerScope(r *http.Request, provider string) (status int, ok bool) {
	p, _ := PrincipalFrom(r.Context())
	switch p.Role {
	case auth.RoleFinance:
		return 0, true
	case auth.RoleProvider:
		if provider == p.Provider {
			return 0, true
		}
		return http.StatusNotFound, false
	}
	return http.StatusForbidden, false
}

func balanceHandler(m Marketplace, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		provider := chi.URLParam(r, "provider")
		if status, ok := providerScope(r, provider); !ok {
			writeError(w, status, http.StatusText(status))
			return
		}
		asOf, err := parseTimeParam(r, "as_of", now().UTC())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		b, err := m.Balances(r.Context(), provider, asOf)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "reading balances: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, b)
	}
}

func payoutsHandler(m Marketplace) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		provider := r.URL.Query().Get("provider")
		if p, _ := PrincipalFrom(r.Context()); p.Role == auth.RoleProvider && provider == "" {
			provider = p.Provider
		}
		if status, ok := providerScope(r, provider); !ok {
			writeError(w, status, http.StatusText(status))
			return
		}
		list, err := m.Payouts(r.Context(), provider)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "reading payouts: "+err.Error())
			return
		}
		if list == nil {
			list = []payouts.Payout{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"payouts": list})
	}
}

func runPayoutsHandler(m Marketplace, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		asOf, err := parseTimeParam(r, "as_of", now().UTC())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if asOf.After(now()) {
			writeError(w, http.StatusConflict, "as_of is in the future: a payout run counts only what has happened")
			return
		}
		res, err := m.RunPayouts(r.Context(), asOf)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "running payouts: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}
