package payouts

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/schemas"
)

// The fake of the snapshot ports (SnapshotStore, LaterEvents,
// PayoutChecks, StoredPosition, ProviderReads, ProviderLaterEvents) over
// the fake events and store.

// fakeSnapshots keeps ledger snapshots in memory over the fake events and
// store, and says how far events are stored (every one unless through is
// set).
type fakeSnapshots struct {
	mu      sync.Mutex
	events  *fakeEvents
	store   *fakeStore
	saved   []*marketplace.Snapshot
	through uint64
	failOn  int // the n-th SaveLedgerSnapshot call from now fails, once
	saves   int
	read    []int // events returned by each EventsAfter
	// providerReads counts the balances read from a snapshot.
	providerReads int
}

func (f *fakeSnapshots) LedgerSnapshot(_ context.Context, asOf time.Time) (*marketplace.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out *marketplace.Snapshot
	for _, s := range f.saved { // in order saved: the last of an as-of wins
		if !s.At.After(asOf) && (out == nil || !s.At.Before(out.At)) {
			out = s
		}
	}
	return out, nil
}

func (f *fakeSnapshots) SaveLedgerSnapshot(_ context.Context, snap *marketplace.Snapshot, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	if f.failOn != 0 && f.saves == f.failOn {
		f.failOn = 0
		return fmt.Errorf("SaveLedgerSnapshot: %w", errDown)
	}
	f.saved = append(f.saved, snap)
	return nil
}

func (f *fakeSnapshots) EventsAfter(_ context.Context, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	var out []schemas.StoredEvent
	for _, e := range f.events.events {
		if e.Seq > position || e.at.After(at) {
			out = append(out, e.StoredEvent)
		}
	}
	f.mu.Lock()
	f.read = append(f.read, len(out))
	f.mu.Unlock()
	return out, nil
}

func (f *fakeSnapshots) ProvidersEvents(_ context.Context, providers []string) ([]schemas.StoredEvent, error) {
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	var out []schemas.StoredEvent
	for _, e := range f.events.events {
		if slices.Contains(providers, e.subject) {
			out = append(out, e.StoredEvent)
		}
	}
	return out, nil
}

func (f *fakeSnapshots) OrderEvents(_ context.Context, ids []string, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	var out []schemas.StoredEvent
	for _, e := range f.events.events {
		if e.order != "" && slices.Contains(ids, e.order) && e.Seq <= position && !e.at.After(at) {
			out = append(out, e.StoredEvent)
		}
	}
	return out, nil
}

// PayoutsToCheck follows the port's contract, written again: the failed
// payouts, those dated after the snapshot, and those dated at or after
// the latest payout of their pair in it (all of a pair it lacks).
func (f *fakeSnapshots) PayoutsToCheck(ctx context.Context, snap *marketplace.Snapshot) ([]Payout, error) {
	ps, err := f.store.Payouts(ctx, "")
	if err != nil || snap == nil {
		return ps, err
	}
	return slices.DeleteFunc(ps, func(p Payout) bool {
		i := slices.IndexFunc(snap.Pairs, func(ps marketplace.PairState) bool {
			return ps.Provider == p.Provider && ps.Currency.Code == p.Currency
		})
		asked := p.Status == StatusFailed || p.AsOf.After(snap.At) || i < 0 || !p.AsOf.Before(snap.Pairs[i].LastPayoutAt)
		return !asked
	}), nil
}

func (f *fakeSnapshots) PayoutsOf(ctx context.Context, providers []string) ([]Payout, error) {
	ps, err := f.store.Payouts(ctx, "")
	return slices.DeleteFunc(ps, func(p Payout) bool { return !slices.Contains(providers, p.Provider) }), err
}

func (f *fakeSnapshots) ProviderPayouts(ctx context.Context, provider string) ([]Payout, error) {
	return f.store.Payouts(ctx, provider)
}

// ProviderState follows the port's contract, written again: the
// provider's part of the latest snapshot at or before asOf, its events
// after it, and the later sales of others naming its order ids that the
// stored ledger has a sale entry of, or that its later sales and refunds
// name.
func (f *fakeSnapshots) ProviderState(ctx context.Context, provider string, asOf time.Time) (*marketplace.Snapshot, []schemas.StoredEvent, error) {
	snap, err := f.LedgerSnapshot(ctx, asOf)
	if err != nil || snap == nil {
		return nil, nil, err
	}
	orders := map[string]bool{}
	f.store.mu.Lock()
	for _, e := range f.store.ledger {
		if e.Provider == provider && e.Kind == marketplace.EntrySale {
			orders[e.OrderID] = true
		}
	}
	f.store.mu.Unlock()
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	after := func(e fakeEvent) bool { return e.Seq > snap.Position || e.at.After(snap.At) }
	for _, e := range f.events.events {
		if e.subject == provider && e.order != "" && after(e) {
			orders[e.order] = true
		}
	}
	var out []schemas.StoredEvent
	for _, e := range f.events.events {
		mine := e.subject == provider && after(e)
		claims := e.typ == schemas.TypeSaleCompleted && e.subject != provider && after(e) && orders[e.order]
		if mine || claims {
			out = append(out, e.StoredEvent)
		}
	}
	f.mu.Lock()
	f.providerReads++
	f.mu.Unlock()
	return snap.Of(provider), out, nil
}

func (f *fakeSnapshots) StoredThrough(context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.through != 0 {
		return f.through, nil
	}
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	return uint64(len(f.events.events)), nil
}
