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
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/pricebook"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// fakeEvents is an in-memory event store behind ActivitySource: events
// are added with add* (stored at once, each with the next sequence) and
// read back like chstore does.
type fakeEvents struct {
	mu      sync.Mutex
	seq     uint64
	subs    map[string][]StoredEvent
	seats   map[string][]aggregators.SeatEvent
	credits map[string][]rating.CreditUsage // one row per event
}

func newFakeEvents() *fakeEvents {
	return &fakeEvents{subs: map[string][]StoredEvent{}, seats: map[string][]aggregators.SeatEvent{},
		credits: map[string][]rating.CreditUsage{}}
}

func (f *fakeEvents) next() uint64 { f.seq++; return f.seq }

// addSub stores a subscription event; sub is nil for a cancel. It
// returns the event's sequence.
func (f *fakeEvents) addSub(tenant string, kind schemas.Type, at time.Time, sub *schemas.Subscription) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := &schemas.Event{ID: "sub", Source: "test", Type: kind, Subject: tenant, Time: at}
	if sub != nil {
		e.Data = sub
	} else {
		e.Data = &schemas.SubscriptionCanceled{}
	}
	seq := f.next()
	f.subs[tenant] = append(f.subs[tenant], StoredEvent{Event: e, Seq: seq})
	return seq
}

func (f *fakeEvents) addSeat(tenant string, at time.Time, user, seatType string, assigned bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seats[tenant] = append(f.seats[tenant], aggregators.SeatEvent{Time: at, Assigned: assigned, UserID: user, SeatType: seatType, Seq: f.next()})
}

func (f *fakeEvents) addCredits(tenant string, at time.Time, credits string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next()
	f.credits[tenant] = append(f.credits[tenant], rating.CreditUsage{At: at, Credits: decimal.RequireFromString(credits)})
}

func (f *fakeEvents) Activity(_ context.Context, end time.Time) (map[string]*TenantActivity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*TenantActivity{}
	get := func(t string) *TenantActivity {
		if out[t] == nil {
			out[t] = &TenantActivity{Tenant: t, CreditsByMonth: map[string]decimal.Decimal{}}
		}
		return out[t]
	}
	for t, evs := range f.subs {
		for _, e := range evs {
			if e.Event.Time.Before(end) {
				get(t).Subscriptions = append(get(t).Subscriptions, e)
			}
		}
		if a := out[t]; a != nil {
			slices.SortStableFunc(a.Subscriptions, func(x, y StoredEvent) int {
				return cmp.Or(x.Event.Time.Compare(y.Event.Time), cmp.Compare(x.Seq, y.Seq))
			})
		}
	}
	for t, evs := range f.seats {
		for _, e := range evs {
			if e.Time.Before(end) {
				get(t).Seats = append(get(t).Seats, e)
			}
		}
		if a := out[t]; a != nil {
			slices.SortStableFunc(a.Seats, func(x, y aggregators.SeatEvent) int {
				return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.Seq, y.Seq))
			})
		}
	}
	for t, rows := range f.credits {
		for _, r := range rows {
			if r.At.Before(end) {
				a := get(t)
				m := PeriodOf(r.At).String()
				a.CreditsByMonth[m] = a.CreditsByMonth[m].Add(r.Credits)
			}
		}
	}
	return out, nil
}

// CreditRows sums credits between consecutive cuts, as chstore does.
func (f *fakeEvents) CreditRows(_ context.Context, end time.Time, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]rating.CreditUsage{}
	for t, cs := range cuts {
		sums := map[time.Time]decimal.Decimal{}
		for _, r := range f.credits[t] {
			if !r.At.Before(end) || r.At.Before(slices.MinFunc(cs, time.Time.Compare)) {
				continue
			}
			var at time.Time
			for _, c := range cs {
				if !c.After(r.At) && c.After(at) {
					at = c
				}
			}
			sums[at] = sums[at].Add(r.Credits)
		}
		for _, at := range slices.SortedFunc(maps.Keys(sums), time.Time.Compare) {
			out[t] = append(out[t], rating.CreditUsage{At: at, Credits: sums[at]})
		}
	}
	return out, nil
}

// fakeStore is an in-memory InvoiceStore.
type fakeStore struct {
	mu        sync.Mutex
	invoices  map[string]Invoice
	closed    map[string]time.Time
	customers map[string]string
	saved     int // invoices saved, over every call
}

func newFakeStore() *fakeStore {
	return &fakeStore{invoices: map[string]Invoice{}, closed: map[string]time.Time{}, customers: map[string]string{}}
}

func (s *fakeStore) Invoices(_ context.Context, f InvoiceFilter) ([]Invoice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	for _, inv := range invs {
		s.invoices[inv.ID] = inv
		s.saved++
	}
	return nil
}

func (s *fakeStore) UpdateInvoiceStatuses(_ context.Context, invs []Invoice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inv := range invs {
		s.invoices[inv.ID] = inv
	}
	return nil
}

func (s *fakeStore) ClosedPeriod(_ context.Context, period string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed[period], nil
}

func (s *fakeStore) ClosedPeriods(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.closed)), nil
}

func (s *fakeStore) RecordClosedPeriod(_ context.Context, period string, at time.Time, _ int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.closed[period]; !ok {
		s.closed[period] = at
	}
	return nil
}

func (s *fakeStore) StripeCustomer(_ context.Context, tenant string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.customers[tenant], nil
}

func (s *fakeStore) SaveStripeCustomer(_ context.Context, tenant, id string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[tenant] = id
	return nil
}

// fakeRejecter records what was dead-lettered: sequence → reason.
type fakeRejecter struct {
	mu       sync.Mutex
	rejected map[uint64]string
}

func (r *fakeRejecter) RejectStored(_ context.Context, seqs []uint64, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
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
	svc, err := New(Config{Book: book, Activity: f.events, Store: f.store, Rejecter: f.rej,
		Now: func() time.Time { return f.now }, Logger: zerolog.Nop()})
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
