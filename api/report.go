package api

import (
	"context"
	"net/http"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/finance"
)

// Reports reads a month's finance figures from the ClickHouse finance
// views (docs/finance.md). A month without data is not an error: its
// sections are empty.
type Reports interface {
	// FinanceReport returns the figures of period, a valid YYYY-MM.
	FinanceReport(ctx context.Context, period string) (finance.Report, error)
}

// reportHandler serves GET /v1/reports?period=YYYY-MM.
func reportHandler(rep Reports) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := billing.ParsePeriod(r.URL.Query().Get("period"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		res, err := rep.FinanceReport(r.Context(), p.String())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "reading the finance report: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}
