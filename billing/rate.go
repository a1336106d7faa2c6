package billing

import (
	"context"
	"errors"

	"github.com/tally-billing/tally/aggregators/rating"
)

// rateAll loads the inputs of p and rates the invoices of every tenant
// for p: the monthly invoice with adjustments for closed periods that
// late events changed, and the upfront and upgrade invoices of prepaid
// terms issued in p (prepaid.go: those of p and those of closed months
// not issued yet). Before rating, it dead-letters what rating leaves out
// (reject.go). A tenant that cannot be rated is a failure, not an error.
func (s *Service) rateAll(ctx context.Context, p Period) ([]Invoice, []TenantFailure, error) {
	in, err := s.loadInputs(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	h, err := s.loadHistory(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if err := s.rejectUnmatchedReleases(ctx, in, p); err != nil {
		return nil, nil, err
	}
	if err := s.rejectRefusedChanges(ctx, in); err != nil {
		return nil, nil, err
	}
	failures := in.failures
	var out []Invoice
	for _, t := range in.tenants {
		invs, err := s.rateTenant(t, in.byTenant[t], p, h)
		if err != nil {
			failures = append(failures, TenantFailure{Tenant: t, Reason: err.Error()})
			continue
		}
		out = append(out, invs...)
	}
	return out, failures, nil
}

// rateTenant rates one tenant's invoices issued in p, h being what billing
// did before.
func (s *Service) rateTenant(tenant string, in *tenantInput, p Period, h *history) ([]Invoice, error) {
	book := s.cfg.Book
	var out []Invoice
	monthly, err := rating.RateMonth(book, tenant, in.changes, in.usage, p)
	subscribed := err == nil
	if err != nil && !errors.Is(err, rating.ErrNotSubscribed) {
		return nil, err
	}
	adj, cur, err := s.adjustments(tenant, in, p, h.prior[tenant], h.closed)
	if err != nil {
		return nil, err
	}
	switch {
	case subscribed:
		monthly.Invoice.Append(adj...)
		if len(monthly.Invoice.Lines) > 0 {
			out = append(out, fromRating(monthly.Invoice, "", p))
		}
	case len(adj) > 0:
		inv := rating.Invoice{Tenant: tenant, Kind: rating.KindMonthly, Period: p.String(), IssuedAt: p.End(),
			Currency: cur, PriceBookVersion: book.Version}
		inv.Append(adj...)
		out = append(out, fromRating(inv, "", p))
	}
	prepaid, err := prepaidInvoices(book, tenant, in.changes, p, h.issued, h.closedSet)
	if err != nil {
		return nil, err
	}
	return append(out, prepaid...), nil
}
