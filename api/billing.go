package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tally-billing/tally/billing"
)

// Billing closes periods and reads invoices.
type Billing interface {
	// ClosePeriod closes a period that has ended; it is idempotent.
	ClosePeriod(ctx context.Context, p billing.Period) (billing.CloseResult, error)
	// Invoices lists invoices; empty filters match all.
	Invoices(ctx context.Context, tenant, period string) ([]billing.Invoice, error)
	// Unbilled lists usage of a period that no invoice covers.
	Unbilled(ctx context.Context, p billing.Period) ([]billing.UnbilledItem, error)
}

func closeHandler(b Billing) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := billing.ParsePeriod(chi.URLParam(r, "period"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		res, err := b.ClosePeriod(r.Context(), p)
		switch {
		case errors.Is(err, billing.ErrPeriodOpen):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "closing period: "+err.Error())
		default:
			writeJSON(w, http.StatusOK, res)
		}
	}
}

// invoicesHandler serves GET /v1/invoices?tenant=&period=. A tenant key
// reads its own tenant's invoices (tenant may be left out); naming another
// tenant is 404.
func invoicesHandler(b Billing) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant, status, ok := tenantOfQuery(r)
		if !ok {
			writeError(w, status, http.StatusText(status))
			return
		}
		q := r.URL.Query()
		period := q.Get("period")
		if period != "" {
			if _, err := billing.ParsePeriod(period); err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		invs, err := b.Invoices(r.Context(), tenant, period)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "reading invoices: "+err.Error())
			return
		}
		if invs == nil {
			invs = []billing.Invoice{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"invoices": invs})
	}
}

func unbilledHandler(b Billing) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := billing.ParsePeriod(r.URL.Query().Get("period"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		items, err := b.Unbilled(r.Context(), p)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "reading unbilled usage: "+err.Error())
			return
		}
		if items == nil {
			items = []billing.UnbilledItem{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"period": p.String(), "unbilled": items})
	}
}
