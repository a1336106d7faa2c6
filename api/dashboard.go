package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/dashboard"
	"github.com/tally-billing/tally/finance"
)

// Trends reads finance figures over a range of months from the finance
// views (docs/finance.md), for the dashboard.
type Trends interface {
	// FinanceTrend returns the figures of months: consecutive, valid
	// YYYY-MM strings, at least one and at most finance.MaxTrendMonths.
	FinanceTrend(ctx context.Context, months []string) (finance.Trend, error)
}

// mountDashboard serves the dashboard's static page at /dashboard/ (no key:
// the page asks for the finance key and sends it to /v1 itself).
func mountDashboard(r chi.Router, log zerolog.Logger) {
	if !dashboard.HasChartLibrary() {
		log.Warn().Msg("dashboard: built without the chart library (Chart.js); the page will say so. Run `make build` to fetch it")
	}
	r.Get("/dashboard", func(w http.ResponseWriter, req *http.Request) {
		target := "/dashboard/"
		if req.URL.RawQuery != "" {
			target += "?" + req.URL.RawQuery
		}
		http.Redirect(w, req, target, http.StatusMovedPermanently)
	})
	r.Handle("/dashboard/*", http.StripPrefix("/dashboard/", dashboard.Handler()))
}

// trendMonths returns the months from..to (YYYY-MM, inclusive).
func trendMonths(from, to string) ([]string, error) {
	f, err := billing.ParsePeriod(from)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	t, err := billing.ParsePeriod(to)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if t.Start().Before(f.Start()) {
		return nil, fmt.Errorf("from (%s) is after to (%s)", f, t)
	}
	var months []string
	for m := f.Start(); !m.After(t.Start()); m = m.AddDate(0, 1, 0) {
		if len(months) == finance.MaxTrendMonths {
			return nil, fmt.Errorf("the range is longer than %d months", finance.MaxTrendMonths)
		}
		months = append(months, billing.PeriodOf(m).String())
	}
	return months, nil
}

// trendHandler serves GET /v1/reports/trend?from=YYYY-MM&to=YYYY-MM.
func trendHandler(tr Trends) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		months, err := trendMonths(r.URL.Query().Get("from"), r.URL.Query().Get("to"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		res, err := tr.FinanceTrend(r.Context(), months)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "reading the finance trend: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}
