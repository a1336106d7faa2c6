package payouts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/schemas"
)

// SnapshotStore keeps the state each payout run leaves (docs/marketplace.md,
// "Incremental ledger"). It is optional: without it every run derives the
// whole history.
type SnapshotStore interface {
	// LedgerSnapshot returns the latest snapshot as of asOf or earlier
	// that was stored whole (the last stored of its as-of); nil if none.
	LedgerSnapshot(ctx context.Context, asOf time.Time) (*marketplace.Snapshot, error)
	// SaveLedgerSnapshot stores snap; it is read back only once stored
	// whole. savedAt tells a retried run's snapshot from the first.
	SaveLedgerSnapshot(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time) error
}

// LaterEvents reads the marketplace events a snapshot does not hold.
type LaterEvents interface {
	// EventsAfter returns every marketplace event a snapshot at position,
	// as of at, does not hold: stored after position (stream sequence) or
	// dated after at; every one for zero arguments. An event may come
	// twice (copies of a stored row); the service counts it once.
	EventsAfter(ctx context.Context, position uint64, at time.Time) ([]schemas.StoredEvent, error)
	// ProvidersEvents returns every marketplace event whose subject is one
	// of providers, whatever its time.
	ProvidersEvents(ctx context.Context, providers []string) ([]schemas.StoredEvent, error)
	// OrderEvents returns the sales and refunds naming one of orderIDs
	// that a snapshot at position, as of at, counted: stored at or before
	// position and dated at or before at.
	OrderEvents(ctx context.Context, orderIDs []string, position uint64, at time.Time) ([]schemas.StoredEvent, error)
}

// PayoutChecks reads the recorded payouts a run continued from a
// snapshot needs, without statements.
type PayoutChecks interface {
	// PayoutsToCheck returns the latest state of at least the payouts
	// marketplace.Advance asks for with snap (failed ones, ones dated
	// after it, ones dated at or after the latest payout of their
	// provider and currency in it); of every payout for a nil snap.
	PayoutsToCheck(ctx context.Context, snap *marketplace.Snapshot) ([]Payout, error)
	// PayoutsOf returns the latest state of every payout of providers.
	PayoutsOf(ctx context.Context, providers []string) ([]Payout, error)
}

// continued is a run's ledger continued from the last snapshot, with what
// the next snapshot needs.
type continued struct {
	derived
	from     *marketplace.Snapshot // nil: no snapshot, the whole history was read
	through  uint64                // every event at or below it was readable when the run read
	position uint64                // the highest stream sequence read
}

// advance builds the ledger of a run as of asOf from the latest snapshot
// at or before asOf, the events stored after it and the payouts it may
// not have counted as they are; providers with late events or changed
// payouts are read in full (see [marketplace.Advance]).
func (s *Service) advance(ctx context.Context, asOf time.Time, took *stages) (*continued, error) {
	snap, err := s.cfg.Snapshots.LedgerSnapshot(ctx, asOf)
	if err != nil {
		return nil, fmt.Errorf("loading the ledger snapshot: %w", err)
	}
	c := &continued{derived: derived{seqOf: map[string]uint64{}}, from: snap}
	// Read how far the stream is stored before reading the events: all
	// of those at or below it are then in the read.
	if c.through, err = s.cfg.Position.StoredThrough(ctx); err != nil {
		return nil, fmt.Errorf("reading how far events are stored: %w", err)
	}
	var since time.Time
	if snap != nil {
		c.position, since = snap.Position, snap.At
	}
	took.mark("load_snapshot")
	// The events after the snapshot and the payouts to check, at once.
	var stored []schemas.StoredEvent
	var recorded []Payout
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if stored, err = s.cfg.Later.EventsAfter(gctx, c.position, since); err != nil {
			return fmt.Errorf("loading the marketplace events after the snapshot: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if recorded, err = s.cfg.Checks.PayoutsToCheck(gctx, snap); err != nil {
			return fmt.Errorf("loading payouts: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	took.mark("load_events_and_payouts")
	var delta marketplace.Input
	if err := c.add(&delta, stored); err != nil {
		return nil, err
	}
	stored = nil // the rows, added to the delta above, are not needed any more
	took.mark("add_events")
	if delta.Payouts, err = toEngineAll(recorded); err != nil {
		return nil, err
	}
	src := s.source(ctx, snap, c.add)
	// time what Advance reads apart from what it computes
	history, orders := src.History, src.Orders
	src.History = func(providers []string) (marketplace.Input, error) {
		defer took.add("read_history", time.Now())
		return history(providers)
	}
	src.Orders = func(ids []string) (marketplace.Input, error) {
		defer took.add("read_orders", time.Now())
		return orders(ids)
	}
	if c.ledger, err = marketplace.Advance(s.cfg.Book.Marketplace, snap, delta, src); err != nil {
		return nil, fmt.Errorf("continuing the ledger: %w", err)
	}
	return c, nil
}

// source is what [marketplace.Advance] reads besides snap and the delta:
// the whole history of the providers derived again (events and payouts),
// and the older orders the delta names, added with add.
func (s *Service) source(ctx context.Context, snap *marketplace.Snapshot, add func(*marketplace.Input, []schemas.StoredEvent) error) marketplace.Source {
	return marketplace.Source{
		History: func(providers []string) (marketplace.Input, error) {
			var in marketplace.Input
			events, err := s.cfg.Later.ProvidersEvents(ctx, providers)
			if err != nil {
				return in, err
			}
			if err := add(&in, events); err != nil {
				return in, err
			}
			recorded, err := s.cfg.Checks.PayoutsOf(ctx, providers)
			if err != nil {
				return in, err
			}
			in.Payouts, err = toEngineAll(recorded)
			return in, err
		},
		Orders: func(ids []string) (marketplace.Input, error) {
			events, err := s.cfg.Later.OrderEvents(ctx, ids, snap.Position, snap.At)
			if err != nil {
				return marketplace.Input{}, err
			}
			var in marketplace.Input
			return in, add(&in, events)
		},
	}
}

// add adds stored events to in, remembering their sequences and the
// highest one. An event read twice in one answer (the event source may
// read without folding copies of a row, see chstore.EventsAfter) counts
// once.
func (c *continued) add(in *marketplace.Input, stored []schemas.StoredEvent) error {
	seen := make(map[string]bool, len(stored))
	for _, se := range stored {
		e := se.Event
		id := e.Identity().MsgID()
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := in.AddEvent(e); err != nil {
			return err
		}
		c.seqOf[id] = se.Seq
		c.position = max(c.position, se.Seq)
	}
	return nil
}

// decideContinued is decide from the last snapshot: derive the run's
// ledger from it and what came after, dead-letter rejections, take the
// next snapshot, append the entries derived again (with the run's own
// payout entries), save the payouts, store the snapshot, record the run.
// A crash before the snapshot is stored leaves the previous one, and the
// saved payouts are read back as recorded; a crash after it leaves a
// snapshot that counts them: either way a retry pays nothing twice.
func (s *Service) decideContinued(ctx context.Context, asOf time.Time) ([]Payout, error) {
	took := stages{last: time.Now()}
	c, err := s.advance(ctx, asOf, &took)
	if err != nil {
		return nil, err
	}
	took.mark("derive")
	// The stored entries to reconcile with are read while the run
	// decides.
	rederived := c.ledger.Rederived()
	var stored []marketplace.Entry
	read := make(chan error, 1)
	go func() {
		var err error
		if c.from == nil {
			stored, err = s.cfg.Ledger.LedgerEntries(ctx)
		} else {
			stored, err = s.cfg.Ledger.LedgerEntriesOf(ctx, rederived, c.from.At)
		}
		read <- err
	}()
	run, next, err := s.decideOn(ctx, c, asOf)
	if err = cmp.Or(<-read, err); err != nil {
		return nil, err
	}
	took.mark("decide")
	upTo := slices.DeleteFunc(c.ledger.Entries, func(e marketplace.Entry) bool { return e.At.After(asOf) })
	c.ledger = nil
	appended := append(marketplace.Reconcile(stored, upTo), marketplace.PayoutEntries(run.Payouts)...)
	took.mark("reconcile")
	saved, err := s.store(ctx, appended, run, &took)
	if err != nil {
		return nil, err
	}
	took.mark("append")
	if err := s.cfg.Snapshots.SaveLedgerSnapshot(ctx, next, s.cfg.Now()); err != nil {
		return nil, err
	}
	took.mark("snapshot")
	if err := s.notifyHeld(ctx, asOf, run.Carried); err != nil {
		return nil, err
	}
	if err := s.cfg.Runs.RecordPayoutRun(ctx, asOf, s.cfg.Now(), len(run.Payouts)); err != nil {
		return nil, err
	}
	s.cfg.Metrics.Runs.Inc()
	ev := s.log.Info().Time("as_of", asOf).Int("payouts", len(run.Payouts)).Int("carried", len(run.Carried)).
		Int("ledger_entries", len(appended)).Int("rederived_providers", len(rederived)).
		Int("snapshot_orders", len(next.Orders)).Uint64("read_through", c.position).Uint64("stored_through", c.through).
		Uint64("position", next.Position)
	for _, st := range took.list {
		ev = ev.Dur(st.name, st.took)
	}
	for _, st := range took.extra {
		ev = ev.Dur(st.name, st.took)
	}
	ev.Msg("payout run from snapshot")
	return s.ofRun(ctx, asOf, run, saved)
}

// decideOn dead-letters the rejections of c's ledger, runs the payouts as
// of asOf and takes the next snapshot: now, so that the ledger's entries
// can be cut to asOf in place after; it is stored after the payouts.
func (s *Service) decideOn(ctx context.Context, c *continued, asOf time.Time) (marketplace.Run, *marketplace.Snapshot, error) {
	if err := s.reject(ctx, &c.derived, asOf); err != nil {
		return marketplace.Run{}, nil, err
	}
	run, err := c.ledger.RunPayouts(asOf)
	if err != nil {
		return marketplace.Run{}, nil, fmt.Errorf("running payouts: %w", err)
	}
	next, err := c.ledger.Snapshot(asOf, run.Payouts)
	if err != nil {
		return marketplace.Run{}, nil, fmt.Errorf("taking the ledger snapshot: %w", err)
	}
	next.Position = s.nextPosition(c, asOf)
	return run, next, nil
}

// stages times the steps of a run for its log line.
type stages struct {
	mu          sync.Mutex // add is called from the reads of a stage, some at once
	last        time.Time
	list, extra []struct {
		name string
		took time.Duration
	}
}

// add records a step that took from start to now apart from the others
// (the reads inside a stage); the stage that contains it still counts it.
func (t *stages) add(name string, start time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.extra = append(t.extra, struct {
		name string
		took time.Duration
	}{name, time.Since(start)})
}

func (t *stages) mark(name string) {
	now := time.Now()
	t.list = append(t.list, struct {
		name string
		took time.Duration
	}{name, now.Sub(t.last)})
	t.last = now
}

// nextPosition is the position the next snapshot claims: the highest
// stream sequence read, but no higher than the stored-through sequence
// read before (an event above it may become readable later, out of
// order), and below any refund still waiting for its sale (rejected as
// unknown order within UnknownOrderGrace). The next run reads what is
// above it again: as late events, whose providers it derives again, so
// such a refund is dead-lettered once the grace has passed, or applied
// when its sale has come.
func (s *Service) nextPosition(c *continued, asOf time.Time) uint64 {
	pos := min(c.position, c.through)
	for _, r := range c.ledger.Rejected {
		if !errors.Is(r.Err, marketplace.ErrUnknownOrder) || asOf.Sub(r.At) >= s.cfg.UnknownOrderGrace {
			continue
		}
		if seq, ok := c.seqOf[r.EventID]; ok && seq <= pos {
			pos = seq - 1
		}
	}
	return pos
}
