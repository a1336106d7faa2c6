package payouts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// RunStore stores what a run decided: the ledger entries it appends, then
// its payouts.
type RunStore interface {
	// AppendLedger appends entries; entries with the same id fold.
	AppendLedger(ctx context.Context, entries []marketplace.Entry) error
	// SavePayouts stores new payouts with their statements.
	SavePayouts(ctx context.Context, ps []Payout) error
}

// StoredLedger reads the stored ledger a run reconciles its entries with.
type StoredLedger interface {
	// LedgerEntries returns every stored ledger entry.
	LedgerEntries(ctx context.Context) ([]marketplace.Entry, error)
	// LedgerEntriesOf returns the stored ledger entries of providers and
	// every stored entry dated after after.
	LedgerEntriesOf(ctx context.Context, providers []string, after time.Time) ([]marketplace.Entry, error)
}

// decide derives, records and saves the payouts of a new run, and returns
// the run's payouts as saved (pending, with statements). It logs how long
// each stage took, since a run reads every marketplace event.
func (s *Service) decide(ctx context.Context, asOf time.Time) ([]Payout, error) {
	if s.cfg.Snapshots != nil {
		return s.decideContinued(ctx, asOf)
	}
	start := time.Now()
	d, err := s.derive(ctx, asOf)
	if err != nil {
		return nil, err
	}
	derived := time.Now()
	if err := s.reject(ctx, d, asOf); err != nil {
		return nil, err
	}
	run, err := d.ledger.RunPayouts(asOf)
	if err != nil {
		return nil, fmt.Errorf("running payouts: %w", err)
	}
	stored, err := s.cfg.Ledger.LedgerEntries(ctx)
	if err != nil {
		return nil, err
	}
	// The derived ledger is not used after this: keep its entries up to
	// asOf in place rather than copy a million of them.
	upTo := slices.DeleteFunc(d.ledger.Entries, func(e marketplace.Entry) bool { return e.At.After(asOf) })
	d.ledger = nil
	appended := marketplace.Reconcile(stored, upTo)
	reconciled := time.Now()
	saved, err := s.store(ctx, appended, run, nil)
	if err != nil {
		return nil, err
	}
	if err := s.notifyHeld(ctx, asOf, run.Carried); err != nil {
		return nil, err
	}
	if err := s.cfg.Runs.RecordPayoutRun(ctx, asOf, s.cfg.Now(), len(run.Payouts)); err != nil {
		return nil, err
	}
	s.cfg.Metrics.Runs.Inc()
	s.log.Info().Time("as_of", asOf).Int("payouts", len(run.Payouts)).Int("carried", len(run.Carried)).
		Int("ledger_entries", len(appended)).
		Dur("derive", derived.Sub(start)).Dur("reconcile", reconciled.Sub(derived)).Dur("store", time.Since(reconciled)).
		Msg("payout run")
	return s.ofRun(ctx, asOf, run, saved)
}

// store appends the ledger entries of a run and saves its payouts
// (pending, with their statements), both at once, and returns the
// payouts as saved. Their order does not matter: a run that stops
// between them is not recorded, and the next one derives the entries
// again and finds the payouts saved (see ofRun).
func (s *Service) store(ctx context.Context, entries []marketplace.Entry, run marketplace.Run, took *stages) ([]Payout, error) {
	saved := make([]Payout, len(run.Payouts))
	for i, p := range run.Payouts {
		saved[i] = fromEngine(p)
		run.Payouts[i].Lines = nil // the statement is saved's now; a run has 100 k lines
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer took.add("append_ledger", time.Now())
		return s.cfg.Store.AppendLedger(gctx, entries)
	})
	g.Go(func() error {
		defer took.add("save_payouts", time.Now())
		return s.cfg.Store.SavePayouts(gctx, saved)
	})
	return saved, g.Wait()
}

// ofRun returns the payouts of the run as of asOf: those it just saved,
// unless payouts of that instant were recorded before (a run that saved
// them and stopped before it was recorded), which it then reads back
// with them, to send those still pending.
func (s *Service) ofRun(ctx context.Context, asOf time.Time, run marketplace.Run, saved []Payout) ([]Payout, error) {
	if slices.ContainsFunc(run.Carried, func(c marketplace.Carry) bool { return c.Reason == marketplace.CarryAlreadyRun }) {
		return s.cfg.Payouts.PayoutsOfRun(ctx, asOf)
	}
	return saved, nil
}
