package payouts

import (
	"context"
	"fmt"
	"time"
)

// RunLog records the payout runs: a run as of an instant is decided once.
type RunLog interface {
	// PayoutRun returns when the run as of asOf was recorded; zero if not.
	PayoutRun(ctx context.Context, asOf time.Time) (time.Time, error)
	// RecordPayoutRun records that the run as of asOf decided n payouts.
	RecordPayoutRun(ctx context.Context, asOf, at time.Time, n int) error
}

// PayoutReader reads the recorded payouts with their statements.
type PayoutReader interface {
	// Payouts returns the latest state of every payout of provider (of
	// every provider when empty), with statements.
	Payouts(ctx context.Context, provider string) ([]Payout, error)
	// PayoutsOfRun returns the latest state of the payouts of the run as
	// of asOf, with statements, by provider then currency.
	PayoutsOfRun(ctx context.Context, asOf time.Time) ([]Payout, error)
}

// HasRun reports whether the payout run as of asOf was recorded.
func (s *Service) HasRun(ctx context.Context, asOf time.Time) (bool, error) {
	at, err := s.cfg.Runs.PayoutRun(ctx, asOf.UTC())
	return !at.IsZero(), err
}

// Payouts lists payouts of provider (all when empty).
func (s *Service) Payouts(ctx context.Context, provider string) ([]Payout, error) {
	return s.cfg.Payouts.Payouts(ctx, provider)
}

// RunPayouts pays, as of asOf, every KYC-verified provider whose available
// balance reaches the minimum. In order: derive the ledger from the events
// and the payouts recorded; dead-letter the events that can never apply;
// append new ledger entries; save the run's payouts as pending; record the
// run (decide.go); then send each pending payout of the run (send.go).
// Re-running the same asOf pays nothing more: the run is recorded, and the
// engine counts the payouts already made; a payout left pending by a crash
// is sent by the next call.
func (s *Service) RunPayouts(ctx context.Context, asOf time.Time) (RunResult, error) {
	asOf = asOf.UTC()
	res := RunResult{AsOf: asOf}
	ranAt, err := s.cfg.Runs.PayoutRun(ctx, asOf)
	if err != nil {
		return res, err
	}
	res.AlreadyRun = !ranAt.IsZero()
	if res.AlreadyRun {
		res.Payouts, err = s.cfg.Payouts.PayoutsOfRun(ctx, asOf)
	} else {
		res.Payouts, err = s.decide(ctx, asOf) // as saved: not read back
	}
	if err != nil {
		return res, err
	}
	if res.Payouts == nil {
		res.Payouts = []Payout{}
	}
	if err := s.sendAll(ctx, pendingIn(res.Payouts)); err != nil {
		return res, fmt.Errorf("sending payouts (they stay pending and are sent by the next run call): %w", err)
	}
	return res, nil
}

// pendingIn points at the pending payouts of ps, for send to set their
// outcome in place.
func pendingIn(ps []Payout) []*Payout {
	var out []*Payout
	for i := range ps {
		if ps[i].Status == StatusPending {
			out = append(out, &ps[i])
		}
	}
	return out
}
