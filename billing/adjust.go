package billing

import (
	"errors"
	"fmt"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
)

// adjustments re-rates every closed month before p with everything known
// now, and returns the differences from what was billed for it (SPEC §3
// item 6). A closed month with no invoice counts as billed nothing, so
// usage that arrived after its month was closed is billed too, at the
// current book's prices. A billed month is re-rated with the price book
// version its monthly invoice names (SPEC §5): a price change never
// alters a closed month, a late event in it is billed at its prices, and
// a version no book is known for fails the tenant with the reason.
func (s *Service) adjustments(tenant string, in *tenantInput, p Period, prior []Invoice, closed []Period) ([]rating.Line, money.Currency, error) {
	var out []rating.Line
	var cur money.Currency
	var earlier []rating.Line
	billed := map[string]Invoice{}
	adjusted := adjustedMonths(prior)
	for _, inv := range prior {
		for _, l := range inv.Lines {
			if l.Kind == string(rating.LineAdjustment) {
				earlier = append(earlier, toRatingLine(l))
			}
		}
		if inv.Kind == KindMonthly {
			billed[inv.Period] = inv
		}
	}
	for _, q := range closed {
		if !q.Before(p) {
			continue
		}
		period := q.String()
		inv, wasBilled := billed[period]
		book := s.cfg.Book
		var err error
		if wasBilled {
			if book, err = s.bookOf(inv); err != nil {
				return nil, cur, fmt.Errorf("re-rating %s: %w", q, err)
			}
		}
		rerated, err := rating.RateMonth(book, tenant, changesBefore(in.changes, q.End()), usageBefore(in.usage, q.End()), q)
		switch {
		case errors.Is(err, rating.ErrNotSubscribed) && !wasBilled && adjusted[period].Code == "":
			continue
		case errors.Is(err, rating.ErrNotSubscribed):
			rerated.Invoice = rating.Invoice{Tenant: tenant, Kind: rating.KindMonthly, Period: q.String()}
		case err != nil:
			return nil, cur, fmt.Errorf("re-rating %s: %w", q, err)
		}
		var finalized rating.Invoice
		if wasBilled {
			if finalized, err = toRating(inv); err != nil {
				return nil, cur, err
			}
		} else {
			finalized = rating.Invoice{Tenant: tenant, Kind: rating.KindMonthly, Period: q.String(),
				Currency: rerated.Invoice.Currency, PriceBookVersion: book.Version}
			if finalized.Currency.Code == "" {
				finalized.Currency = adjusted[period]
			}
		}
		if rerated.Invoice.Currency.Code == "" {
			rerated.Invoice.Currency, rerated.Invoice.PriceBookVersion = finalized.Currency, finalized.PriceBookVersion
		}
		// A monthly invoice carries the month's own lines and adjustments
		// of earlier months; only its own lines are compared.
		own := finalized
		own.Lines = nil
		for _, l := range finalized.Lines {
			if l.Kind != rating.LineAdjustment {
				own.Lines = append(own.Lines, l)
			}
		}
		lines, err := rating.Adjustments(own, earlier, rerated.Invoice)
		if err != nil {
			return nil, cur, err
		}
		if len(lines) > 0 {
			out = append(out, lines...)
			cur = finalized.Currency
		}
	}
	return out, cur, nil
}

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
