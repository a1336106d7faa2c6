package billing

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// tenantInput is one tenant's rating input, with data up to some end.
type tenantInput struct {
	changes []rating.SubscriptionChange
	usage   rating.Usage
}

// inputs is every tenant's rating input for a period.
type inputs struct {
	tenants  []string // sorted; those that failed are left out
	acts     map[string]*TenantActivity
	byTenant map[string]*tenantInput
	failures []TenantFailure
	refused  []refusedChange // subscription changes left out of rating
}

// loadInputs loads every tenant's rating input with data before p's end.
func (s *Service) loadInputs(ctx context.Context, p Period) (*inputs, error) {
	acts, err := s.cfg.Activity.Activity(ctx, p.End())
	if err != nil {
		return nil, err
	}
	in := &inputs{acts: acts, byTenant: map[string]*tenantInput{}}
	cuts := map[string][]time.Time{}
	all := make([]string, 0, len(acts))
	for t := range acts {
		all = append(all, t)
	}
	sort.Strings(all)
	for _, t := range all {
		a := acts[t]
		changes, refused := admitChanges(s.cfg.Book, t, a.Subscriptions)
		in.refused = append(in.refused, refused...)
		ti := &tenantInput{changes: changes}
		ti.usage.Seats = a.Seats
		packs, err := packPurchases(a.Packs)
		if err == nil {
			ti.usage.Packs = packs
			cuts[t], err = tenantCuts(s.cfg.Book, ti.changes, a, p)
		}
		if err != nil {
			in.failures = append(in.failures, TenantFailure{Tenant: t, Reason: err.Error()})
			continue
		}
		in.tenants = append(in.tenants, t)
		in.byTenant[t] = ti
	}
	rows, err := s.cfg.Activity.CreditRows(ctx, p.End(), cuts)
	if err != nil {
		return nil, err
	}
	for t, ti := range in.byTenant {
		ti.usage.Credits = rows[t]
	}
	return in, nil
}

// history is what billing did before a period p: the invoices stored and
// the periods closed.
type history struct {
	issued    map[string]bool      // the id of every stored invoice
	prior     map[string][]Invoice // each tenant's invoices of periods before p
	closed    []Period             // the closed periods, in the store's order
	closedSet map[Period]bool
}

// loadHistory reads the stored invoices and the closed periods.
func (s *Service) loadHistory(ctx context.Context, p Period) (*history, error) {
	invs, err := s.cfg.Invoices.Invoices(ctx, InvoiceFilter{})
	if err != nil {
		return nil, fmt.Errorf("reading the stored invoices: %w", err)
	}
	h := &history{issued: map[string]bool{}, prior: map[string][]Invoice{}, closedSet: map[Period]bool{}}
	for _, inv := range invs {
		h.issued[inv.ID] = true
		q, err := ParsePeriod(inv.Period)
		if err != nil {
			return nil, fmt.Errorf("reading invoice %s: %w", inv.ID, err)
		}
		if q.Before(p) {
			h.prior[inv.Tenant] = append(h.prior[inv.Tenant], inv)
		}
	}
	closed, err := s.cfg.Periods.ClosedPeriods(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the closed periods: %w", err)
	}
	for _, c := range closed {
		q, err := ParsePeriod(c)
		if err != nil {
			return nil, fmt.Errorf("reading the closed periods: %w", err)
		}
		h.closed = append(h.closed, q)
		h.closedSet[q] = true
	}
	return h, nil
}

func changesBefore(changes []rating.SubscriptionChange, end time.Time) []rating.SubscriptionChange {
	var out []rating.SubscriptionChange
	for _, c := range changes {
		if c.At.Before(end) {
			out = append(out, c)
		}
	}
	return out
}

func usageBefore(u rating.Usage, end time.Time) rating.Usage {
	var out rating.Usage
	for _, e := range u.Seats {
		if e.Time.Before(end) {
			out.Seats = append(out.Seats, e)
		}
	}
	for _, c := range u.Credits {
		if c.At.Before(end) {
			out.Credits = append(out.Credits, c)
		}
	}
	for _, pk := range u.Packs {
		if pk.At.Before(end) {
			out.Packs = append(out.Packs, pk)
		}
	}
	return out
}

// tenantCuts are the instants credit rows are summed between: a cut far in
// the past, then for every month from the tenant's first activity to p its
// start and subscription changes (rating.Cuts).
func tenantCuts(book *pricebook.Book, changes []rating.SubscriptionChange, a *TenantActivity, p Period) ([]time.Time, error) {
	first := p
	for month := range a.CreditsByMonth {
		if q, err := ParsePeriod(month); err == nil && q.Before(first) {
			first = q
		}
	}
	for _, c := range changes {
		if q := PeriodOf(c.At); q.Before(first) {
			first = q
		}
	}
	for _, pk := range a.Packs {
		if q := PeriodOf(pk.Time); q.Before(first) {
			first = q
		}
	}
	out := []time.Time{schemas.MinTime()}
	for q := first; !p.Before(q); q = q.Next() {
		cs, err := rating.Cuts(book, changesBefore(changes, q.End()), q.Start(), q.End())
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func subscriptionChanges(events []schemas.StoredEvent) []rating.SubscriptionChange {
	out := make([]rating.SubscriptionChange, 0, len(events))
	for _, se := range events {
		out = append(out, rating.ChangeOf(se.Event))
	}
	return out
}

func packPurchases(events []*schemas.Event) ([]rating.PackPurchase, error) {
	out := make([]rating.PackPurchase, 0, len(events))
	for _, e := range events {
		d, ok := e.Data.(*schemas.AIPackPurchased)
		if !ok {
			return nil, fmt.Errorf("event %s is not a pack purchase", e.ID)
		}
		out = append(out, rating.PackPurchase{At: e.Time, PackID: d.PackID, Credits: d.Credits, Price: d.Price, Currency: d.Currency})
	}
	return out, nil
}
