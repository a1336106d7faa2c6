package billing

import (
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
)

// adjustedMonths returns the months that adjustment lines on the given
// invoices bill, with the currency they were billed in. A month billed
// only through adjustments (closed without the tenant's events, or while
// the tenant could not be rated) has no monthly invoice of its own; when
// a later event leaves it with nothing to bill (a late cancel), what the
// adjustments billed is given back like any other difference.
func adjustedMonths(prior []Invoice) map[string]money.Currency {
	out := map[string]money.Currency{}
	for _, inv := range prior {
		cur, err := money.LookupCurrency(inv.Currency)
		if err != nil {
			continue
		}
		for _, l := range inv.Lines {
			if l.Kind == string(rating.LineAdjustment) {
				out[l.Period] = cur
			}
		}
	}
	return out
}
