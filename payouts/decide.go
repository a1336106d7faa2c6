package payouts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// decide derives, records and saves the payouts of a new run. It logs how
// long each stage took, since a run reads every marketplace event.
func (s *Service) decide(ctx context.Context, asOf time.Time) error {
	if s.cfg.Snapshots != nil {
		return s.decideContinued(ctx, asOf)
	}
	start := time.Now()
	d, err := s.derive(ctx, asOf)
	if err != nil {
		return err
	}
	derived := time.Now()
	if err := s.reject(ctx, d, asOf); err != nil {
		return err
	}
	run, err := d.ledger.RunPayouts(asOf)
	if err != nil {
		return fmt.Errorf("running payouts: %w", err)
	}
	stored, err := s.cfg.Store.LedgerEntries(ctx)
	if err != nil {
		return err
	}
	// The derived ledger is not used after this: keep its entries up to
	// asOf in place rather than copy a million of them.
	upTo := slices.DeleteFunc(d.ledger.Entries, func(e marketplace.Entry) bool { return e.At.After(asOf) })
	d.ledger = nil
	appended := marketplace.Reconcile(stored, upTo)
	reconciled := time.Now()
	if err := s.store(ctx, appended, run); err != nil {
		return err
	}
	if err := s.cfg.Store.RecordPayoutRun(ctx, asOf, s.cfg.Now(), len(run.Payouts)); err != nil {
		return err
	}
	s.cfg.Metrics.Runs.Inc()
	s.log.Info().Time("as_of", asOf).Int("payouts", len(run.Payouts)).Int("carried", len(run.Carried)).
		Int("ledger_entries", len(appended)).
		Dur("derive", derived.Sub(start)).Dur("reconcile", reconciled.Sub(derived)).Dur("store", time.Since(reconciled)).
		Msg("payout run")
	return nil
}

// store appends the ledger entries of a run, then saves its payouts
// (pending, with their statements).
func (s *Service) store(ctx context.Context, entries []marketplace.Entry, run marketplace.Run) error {
	if err := s.cfg.Store.AppendLedger(ctx, entries); err != nil {
		return err
	}
	saved := make([]Payout, len(run.Payouts))
	for i, p := range run.Payouts {
		saved[i] = fromEngine(p)
	}
	return s.cfg.Store.SavePayouts(ctx, saved)
}
