package billing

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// fakeStore is an in-memory InvoiceStore, PeriodRecord and CustomerIDs.
type fakeStore struct {
	mu        sync.Mutex
	invoices  map[string]Invoice
	closed    map[string]time.Time
	failed    map[string]int // period → tenants its first close could not rate
	customers map[string]string
	saved     int              // invoices saved, over every call
	fail      map[string]error // method name → the error it returns (an outage)
}

func newFakeStore() *fakeStore {
	return &fakeStore{invoices: map[string]Invoice{}, closed: map[string]time.Time{}, failed: map[string]int{}, customers: map[string]string{},
		fail: map[string]error{}}
}

func (s *fakeStore) Invoices(_ context.Context, f InvoiceFilter) ([]Invoice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["Invoices"]; err != nil {
		return nil, err
	}
	var out []Invoice
	for _, inv := range s.invoices {
		if (f.Tenant == "" || inv.Tenant == f.Tenant) && (f.Period == "" || inv.Period == f.Period) && (f.ID == "" || inv.ID == f.ID) {
			inv.Lines = slices.Clone(inv.Lines)
			out = append(out, inv)
		}
	}
	slices.SortFunc(out, func(a, b Invoice) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Kind, b.Kind),
			a.IssuedAt.Compare(b.IssuedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *fakeStore) SaveInvoices(_ context.Context, invs []Invoice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["SaveInvoices"]; err != nil {
		return err
	}
	for _, inv := range invs {
		s.invoices[inv.ID] = inv
		s.saved++
	}
	return nil
}

func (s *fakeStore) UpdateInvoiceStatuses(_ context.Context, invs []Invoice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["UpdateInvoiceStatuses"]; err != nil {
		return err
	}
	for _, inv := range invs {
		s.invoices[inv.ID] = inv
	}
	return nil
}

func (s *fakeStore) ClosedPeriod(_ context.Context, period string) (time.Time, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["ClosedPeriod"]; err != nil {
		return time.Time{}, 0, err
	}
	return s.closed[period], s.failed[period], nil
}

func (s *fakeStore) ClosedPeriods(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["ClosedPeriods"]; err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(s.closed)), nil
}

func (s *fakeStore) RecordClosedPeriod(_ context.Context, period string, at time.Time, _, failed int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["RecordClosedPeriod"]; err != nil {
		return err
	}
	if _, ok := s.closed[period]; !ok {
		s.closed[period], s.failed[period] = at, failed
	}
	return nil
}

func (s *fakeStore) StripeCustomer(_ context.Context, tenant string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["StripeCustomer"]; err != nil {
		return "", err
	}
	return s.customers[tenant], nil
}

func (s *fakeStore) SaveStripeCustomer(_ context.Context, tenant, id string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail["SaveStripeCustomer"]; err != nil {
		return err
	}
	s.customers[tenant] = id
	return nil
}

// fakeRejecter records what was dead-lettered: sequence → reason.
type fakeRejecter struct {
	mu       sync.Mutex
	rejected map[uint64]string
	fail     error // returned by every call when set
}

func (r *fakeRejecter) RejectStored(_ context.Context, seqs []uint64, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if r.rejected == nil {
		r.rejected = map[uint64]string{}
	}
	for _, s := range seqs {
		r.rejected[s] = reason
	}
	return nil
}

// fixture is a billing service over fakes with a settable clock.
type fixture struct {
	t      *testing.T
	events *fakeEvents
	store  *fakeStore
	rej    *fakeRejecter
	sender *fakeSender // nil: a dry run
	now    time.Time
	svc    *Service
}

func newFixture(t *testing.T, book *pricebook.Book) *fixture {
	t.Helper()
	f := &fixture{t: t, events: newFakeEvents(), store: newFakeStore(), rej: &fakeRejecter{}}
	f.restart(book)
	return f
}

// restart builds a new service (a daemon restart, possibly with another
// price book) over the same stores.
func (f *fixture) restart(book *pricebook.Book) {
	f.t.Helper()
	cfg := Config{Book: book, Activity: f.events, Invoices: f.store, Periods: f.store, Customers: f.store, Rejecter: f.rej,
		Now: func() time.Time { return f.now }, Logger: zerolog.Nop()}
	if f.sender != nil { // a nil *fakeSender in the interface would not be a dry run
		cfg.Sender = f.sender
	}
	svc, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
}

// close closes period ("YYYY-MM") with the clock just after its end.
func (f *fixture) close(period string) CloseResult {
	f.t.Helper()
	p, err := ParsePeriod(period)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.now.Before(p.End()) {
		f.now = p.End().Add(time.Hour)
	}
	res, err := f.svc.ClosePeriod(context.Background(), p)
	if err != nil {
		f.t.Fatalf("closing %s: %v", period, err)
	}
	return res
}

func (f *fixture) invoices(tenant, period string) []Invoice {
	f.t.Helper()
	invs, err := f.store.Invoices(context.Background(), InvoiceFilter{Tenant: tenant, Period: period})
	if err != nil {
		f.t.Fatal(err)
	}
	return invs
}

func sub(plan string, term schemas.Term, currency string, committed map[schemas.SeatType]int64) *schemas.Subscription {
	c, err := money.LookupCurrency(currency)
	if err != nil {
		panic(err)
	}
	return &schemas.Subscription{Plan: plan, Term: term, Currency: c, CommittedSeats: committed}
}

func at(year int, month time.Month, day, hour int) time.Time {
	return time.Date(year, month, day, hour, 0, 0, 0, time.UTC)
}

// findLine returns the line of inv with that kind, item and period.
func findLine(t *testing.T, inv Invoice, kind, item, period string) Line {
	t.Helper()
	for _, l := range inv.Lines {
		if l.Kind == kind && l.Item == item && l.Period == period {
			return l
		}
	}
	t.Fatalf("invoice %s (%s %s) has no %s line %q for %s: %+v", inv.ID, inv.Kind, inv.Period, kind, item, period, inv.Lines)
	return Line{}
}

func ofKind(invs []Invoice, kind string) []Invoice {
	var out []Invoice
	for _, inv := range invs {
		if inv.Kind == kind {
			out = append(out, inv)
		}
	}
	return out
}
