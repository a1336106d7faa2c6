package payouts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/schemas"
)

// continued is a run's ledger continued from the last snapshot, with what
// the next snapshot needs.
type continued struct {
	derived
	from     *marketplace.Snapshot // nil: no snapshot, the whole history was read
	through  uint64                // every event at or below it was readable when the run read
	position uint64                // the highest stream sequence read
}

// advance builds the ledger of a run as of asOf from the latest snapshot
// at or before asOf, the events stored after it and every payout
// recorded; providers with late events are read in full (see
// [marketplace.Advance]).
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
	stored, err := s.cfg.Snapshots.EventsAfter(ctx, c.position, since)
	if err != nil {
		return nil, fmt.Errorf("loading the marketplace events after the snapshot: %w", err)
	}
	var delta marketplace.Input
	if err := c.add(&delta, stored); err != nil {
		return nil, err
	}
	took.mark("load_events")
	recorded, err := s.cfg.Snapshots.RecordedPayouts(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("loading payouts: %w", err)
	}
	took.mark("load_payouts")
	for _, p := range recorded {
		mp, err := toEngine(p)
		if err != nil {
			return nil, err
		}
		delta.Payouts = append(delta.Payouts, mp)
	}
	src := marketplace.Source{
		History: func(providers []string) (marketplace.Input, error) {
			events, err := s.cfg.Snapshots.ProvidersEvents(ctx, providers)
			if err != nil {
				return marketplace.Input{}, err
			}
			var in marketplace.Input
			return in, c.add(&in, events)
		},
		Orders: func(ids []string) (marketplace.Input, error) {
			events, err := s.cfg.Snapshots.OrderEvents(ctx, ids, snap.Position, snap.At)
			if err != nil {
				return marketplace.Input{}, err
			}
			var in marketplace.Input
			return in, c.add(&in, events)
		},
	}
	if c.ledger, err = marketplace.Advance(s.cfg.Book.Marketplace, snap, delta, src); err != nil {
		return nil, fmt.Errorf("continuing the ledger: %w", err)
	}
	return c, nil
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
// ledger from it and what came after, dead-letter rejections, append the
// entries derived again (with the run's own payout entries), save the
// payouts, store the next snapshot, record the run. A crash before the
// snapshot is stored leaves the previous one, and the saved payouts are
// read back as recorded; a crash after it leaves a snapshot that counts
// them: either way a retry pays nothing twice.
func (s *Service) decideContinued(ctx context.Context, asOf time.Time) error {
	took := stages{last: time.Now()}
	c, err := s.advance(ctx, asOf, &took)
	if err != nil {
		return err
	}
	took.mark("derive")
	if err := s.reject(ctx, &c.derived, asOf); err != nil {
		return err
	}
	run, err := c.ledger.RunPayouts(asOf)
	if err != nil {
		return fmt.Errorf("running payouts: %w", err)
	}
	took.mark("decide")
	var stored []marketplace.Entry
	if c.from == nil {
		stored, err = s.cfg.Store.LedgerEntries(ctx)
	} else {
		stored, err = s.cfg.Snapshots.LedgerEntriesOf(ctx, c.ledger.Rederived(), c.from.At)
	}
	if err != nil {
		return err
	}
	upTo := slices.DeleteFunc(slices.Clone(c.ledger.Entries), func(e marketplace.Entry) bool { return e.At.After(asOf) })
	appended := append(marketplace.Reconcile(stored, upTo), marketplace.PayoutEntries(run.Payouts)...)
	took.mark("reconcile")
	if err := s.store(ctx, appended, run); err != nil {
		return err
	}
	took.mark("append")
	next, err := c.ledger.Snapshot(asOf, run.Payouts)
	if err != nil {
		return fmt.Errorf("taking the ledger snapshot: %w", err)
	}
	next.Position = s.nextPosition(c, asOf)
	if err := s.cfg.Snapshots.SaveLedgerSnapshot(ctx, next, s.cfg.Now()); err != nil {
		return err
	}
	took.mark("snapshot")
	if err := s.cfg.Store.RecordPayoutRun(ctx, asOf, s.cfg.Now(), len(run.Payouts)); err != nil {
		return err
	}
	s.cfg.Metrics.Runs.Inc()
	ev := s.log.Info().Time("as_of", asOf).Int("payouts", len(run.Payouts)).Int("carried", len(run.Carried)).
		Int("ledger_entries", len(appended)).Int("rederived_providers", len(c.ledger.Rederived())).
		Int("snapshot_orders", len(next.Orders)).Uint64("read_through", c.position).Uint64("stored_through", c.through).
		Uint64("position", next.Position)
	for _, st := range took.list {
		ev = ev.Dur(st.name, st.took)
	}
	ev.Msg("payout run from snapshot")
	return nil
}

// stages times the steps of a run for its log line.
type stages struct {
	last time.Time
	list []struct {
		name string
		took time.Duration
	}
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
