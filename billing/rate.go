package billing

import (
	"context"
	"errors"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
)

// rateAll rates the invoices of every tenant for period p: the monthly
// invoice with adjustments for closed periods that late events changed,
// and the upfront and upgrade invoices of prepaid terms issued in p
// (prepaid.go: those of p and those of closed months not issued yet).
func (s *Service) rateAll(ctx context.Context, p Period) ([]Invoice, []TenantFailure, error) {
	in, err := s.loadInputs(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	prior, err := s.cfg.Store.Invoices(ctx, InvoiceFilter{})
	if err != nil {
		return nil, nil, err
	}
	priorByTenant := map[string][]Invoice{}
	issued := map[string]bool{}
	for _, inv := range prior {
		issued[inv.ID] = true
		if inv.Period < p.String() {
			priorByTenant[inv.Tenant] = append(priorByTenant[inv.Tenant], inv)
		}
	}
	closed, err := s.cfg.Store.ClosedPeriods(ctx)
	if err != nil {
		return nil, nil, err
	}
	closedSet := map[string]bool{}
	for _, c := range closed {
		closedSet[c] = true
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
		invs, err := s.rateTenant(t, in.byTenant[t], p, priorByTenant[t], closed, issued, closedSet)
		if err != nil {
			failures = append(failures, TenantFailure{Tenant: t, Reason: err.Error()})
			continue
		}
		out = append(out, invs...)
	}
	return out, failures, nil
}

// rejectUnmatchedReleases dead-letters the releases in p of seats that
// were not held: they change no seat count (a seat never goes negative).
func (s *Service) rejectUnmatchedReleases(ctx context.Context, in *inputs, p Period) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	var seqs []uint64
	for _, t := range in.tenants {
		for _, e := range aggregators.UnmatchedReleases(in.byTenant[t].usage.Seats, p.Start(), p.End()) {
			if e.Seq != 0 {
				seqs = append(seqs, e.Seq)
			}
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	s.log.Warn().Int("events", len(seqs)).Str("period", p.String()).Msg("dead-lettering seat releases without an assignment")
	return s.cfg.Rejecter.RejectStored(ctx, seqs,
		"seat released without an assignment: the seat was not held at that time, so no seat is released")
}

// rateTenant rates one tenant's invoices issued in p. issued holds the ids
// of every stored invoice, closedSet the closed periods.
func (s *Service) rateTenant(tenant string, in *tenantInput, p Period, prior []Invoice, closed []string,
	issued, closedSet map[string]bool) ([]Invoice, error) {
	book := s.cfg.Book
	var out []Invoice
	monthly, err := rating.RateMonth(book, tenant, in.changes, in.usage, p)
	subscribed := err == nil
	if err != nil && !errors.Is(err, rating.ErrNotSubscribed) {
		return nil, err
	}
	adj, cur, err := s.adjustments(tenant, in, p, prior, closed)
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
	prepaid, err := prepaidInvoices(book, tenant, in.changes, p, issued, closedSet)
	if err != nil {
		return nil, err
	}
	return append(out, prepaid...), nil
}

// fromRating turns a rated invoice into a stored one, status finalized.
func fromRating(inv rating.Invoice, discriminator string, p Period) Invoice {
	out := Invoice{
		ID:     InvoiceID(inv.Tenant, p.String(), string(inv.Kind), discriminator),
		Tenant: inv.Tenant, Period: inv.Period, Kind: string(inv.Kind), Currency: inv.Currency.Code,
		PriceBookVersion: inv.PriceBookVersion, Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total,
		Status: StatusFinalized, IssuedAt: inv.IssuedAt.UTC(),
	}
	for _, l := range inv.Lines {
		out.Lines = append(out.Lines, Line{Kind: string(l.Kind), Item: l.Item, Description: l.Description,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags,
			Adjusts: string(l.Adjusts)})
	}
	return out
}

func toRating(inv Invoice) (rating.Invoice, error) {
	cur, err := money.LookupCurrency(inv.Currency)
	if err != nil {
		return rating.Invoice{}, err
	}
	out := rating.Invoice{Tenant: inv.Tenant, Kind: rating.InvoiceKind(inv.Kind), Period: inv.Period, IssuedAt: inv.IssuedAt,
		Currency: cur, PriceBookVersion: inv.PriceBookVersion, Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total}
	for _, l := range inv.Lines {
		out.Lines = append(out.Lines, toRatingLine(l))
	}
	return out, nil
}

func toRatingLine(l Line) rating.Line {
	return rating.Line{Kind: rating.LineKind(l.Kind), Item: l.Item, Description: l.Description, Quantity: l.Quantity,
		UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags, Adjusts: rating.LineKind(l.Adjusts)}
}
