package billing

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

// fakeEvents is an in-memory event store behind ActivitySource: events
// are added with add* (stored at once, each with the next sequence) and
// read back like chstore does.
type fakeEvents struct {
	mu      sync.Mutex
	seq     uint64
	subs    map[string][]schemas.StoredEvent
	seats   map[string][]aggregators.SeatEvent
	credits map[string][]rating.CreditUsage // one row per event
	packs   map[string][]*schemas.Event
	fail    map[string]error // method name → the error it returns
	loads   int              // Activity calls: each is a whole month's read
}

func newFakeEvents() *fakeEvents {
	return &fakeEvents{subs: map[string][]schemas.StoredEvent{}, seats: map[string][]aggregators.SeatEvent{},
		credits: map[string][]rating.CreditUsage{}, packs: map[string][]*schemas.Event{}, fail: map[string]error{}}
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
	f.subs[tenant] = append(f.subs[tenant], schemas.StoredEvent{Seq: seq, Event: e})
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

// addPack stores a pack purchase; data is its event data (normally an
// *schemas.AIPackPurchased).
func (f *fakeEvents) addPack(tenant string, at time.Time, data schemas.Payload) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next()
	f.packs[tenant] = append(f.packs[tenant], &schemas.Event{ID: "pack", Source: "test", Type: schemas.TypeAIPackPurchased,
		Subject: tenant, Time: at, Data: data})
}

func (f *fakeEvents) Activity(_ context.Context, end time.Time) (map[string]*TenantActivity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if err := f.fail["Activity"]; err != nil {
		return nil, err
	}
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
			slices.SortStableFunc(a.Subscriptions, func(x, y schemas.StoredEvent) int {
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
	for t, evs := range f.packs {
		for _, e := range evs {
			if e.Time.Before(end) {
				get(t).Packs = append(get(t).Packs, e)
			}
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
	if err := f.fail["CreditRows"]; err != nil {
		return nil, err
	}
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
