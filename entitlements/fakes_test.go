package entitlements

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

// memStore is an in-memory event store: the events stored so far, each
// at its stream sequence, and how far the sink has stored (through).
type memStore struct {
	mu       sync.Mutex
	events   []schemas.StoredEvent
	through  uint64
	rejected map[uint64]string
}

func (m *memStore) store(e *schemas.Event) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	seq := uint64(len(m.events) + 1)
	m.events = append(m.events, schemas.StoredEvent{Seq: seq, Event: e})
	m.through = seq
	return seq
}

func (m *memStore) StoredThrough(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.through, nil
}

func (m *memStore) StateEvents(_ context.Context, after, through uint64, credits bool) ([]schemas.StoredEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []schemas.StoredEvent
	for _, se := range m.events {
		if se.Seq > after && se.Seq <= through && slices.Contains(StateTypes(), se.Event.Type) &&
			(credits || se.Event.Type != schemas.TypeAICreditsConsumed) {
			out = append(out, se)
		}
	}
	return out, nil
}

func (m *memStore) CreditMonths(_ context.Context, through uint64) (map[string][]rating.Period, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]rating.Period{}
	for _, se := range m.events {
		if se.Seq <= through && se.Event.Type == schemas.TypeAICreditsConsumed {
			p := rating.PeriodOf(se.Event.Time)
			if !slices.Contains(out[se.Event.Subject], p) {
				out[se.Event.Subject] = append(out[se.Event.Subject], p)
			}
		}
	}
	return out, nil
}

// CreditSums sums credits between cuts the way the ClickHouse query does:
// each event goes to the last cut at or before its time.
func (m *memStore) CreditSums(_ context.Context, through uint64, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sums := map[string]map[time.Time]decimal.Decimal{}
	for _, se := range m.events {
		e := se.Event
		cs := cuts[e.Subject]
		if se.Seq > through || e.Type != schemas.TypeAICreditsConsumed || len(cs) == 0 {
			continue
		}
		var at time.Time
		found := false
		for _, c := range cs {
			if !c.After(e.Time) && (!found || c.After(at)) {
				at, found = c, true
			}
		}
		if !found {
			continue
		}
		if sums[e.Subject] == nil {
			sums[e.Subject] = map[time.Time]decimal.Decimal{}
		}
		sums[e.Subject][at] = sums[e.Subject][at].Add(e.Data.(*schemas.AICreditsConsumed).Credits)
	}
	out := map[string][]rating.CreditUsage{}
	for t, m := range sums {
		for at, c := range m {
			out[t] = append(out[t], rating.CreditUsage{At: at, Credits: c})
		}
	}
	return out, nil
}

func (m *memStore) RejectStored(_ context.Context, seqs []uint64, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rejected == nil {
		m.rejected = map[uint64]string{}
	}
	for _, s := range seqs {
		if _, ok := m.rejected[s]; !ok {
			m.rejected[s] = reason
		}
	}
	return nil
}

func errorsAs(err error, target **UnknownCapabilityError) bool { return errors.As(err, target) }
