package billing

import (
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
)

// prepaidInvoices returns the upfront and upgrade invoices of a tenant
// that the close of p issues (SPEC §5 "No contract year is left
// unbilled"): those whose contract-year event (a year start, an upgrade)
// falls in p, and those of a closed month before p that no close has
// issued yet — the subscription event arrived after its month was
// closed, or the tenant could not be rated then.
//
// An invoice's id is derived from the month and instant of its
// contract-year event, the id it has when issued on time, so it is issued
// once whichever close finds it first, and never again. A late one is an
// invoice of p: period p, issued at p's end, with the close that finds
// it; its lines name the contract year. A month that was never closed
// (before Tally's time, closed on request only) issues its own when it is
// closed.
func prepaidInvoices(book *pricebook.Book, tenant string, changes []rating.SubscriptionChange, p Period,
	issued map[string]bool, closed map[Period]bool) ([]Invoice, error) {
	rated, err := rating.RatePrepaid(book, tenant, changes, time.Time{}, p.End())
	if err != nil {
		return nil, err
	}
	var out []Invoice
	for _, r := range rated {
		q := PeriodOf(r.IssuedAt) // the month of the contract-year event
		inv := fromRating(r, r.IssuedAt.UTC().Format(time.RFC3339Nano), q)
		switch {
		case q == p:
		case q.Before(p) && closed[q] && !issued[inv.ID]:
			inv.Period, inv.IssuedAt = p.String(), p.End()
		default:
			continue
		}
		out = append(out, inv)
	}
	return out, nil
}
