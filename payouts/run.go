package payouts

import (
	"context"
	"fmt"
	"time"
)

// HasRun reports whether the payout run as of asOf was recorded.
func (s *Service) HasRun(ctx context.Context, asOf time.Time) (bool, error) {
	at, err := s.cfg.Store.PayoutRun(ctx, asOf.UTC())
	return !at.IsZero(), err
}

// Payouts lists payouts of provider (all when empty).
func (s *Service) Payouts(ctx context.Context, provider string) ([]Payout, error) {
	return s.cfg.Store.Payouts(ctx, provider)
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
	ranAt, err := s.cfg.Store.PayoutRun(ctx, asOf)
	if err != nil {
		return res, err
	}
	res.AlreadyRun = !ranAt.IsZero()
	if !res.AlreadyRun {
		if err := s.decide(ctx, asOf); err != nil {
			return res, err
		}
	}
	if res.Payouts, err = s.payoutsOfRun(ctx, asOf); err != nil {
		return res, err
	}
	if err := s.sendAll(ctx, pendingIn(res.Payouts)); err != nil {
		return res, fmt.Errorf("sending payouts (they stay pending and are sent by the next run call): %w", err)
	}
	return res, nil
}

// payoutsOfRun returns the stored payouts of the run as of asOf, never nil.
func (s *Service) payoutsOfRun(ctx context.Context, asOf time.Time) ([]Payout, error) {
	if s.cfg.Snapshots != nil { // reads the run's payouts only
		ps, err := s.cfg.Snapshots.PayoutsOfRun(ctx, asOf)
		if ps == nil {
			ps = []Payout{}
		}
		return ps, err
	}
	all, err := s.cfg.Store.Payouts(ctx, "")
	if err != nil {
		return nil, err
	}
	out := []Payout{}
	for _, p := range all {
		if p.AsOf.Equal(asOf) {
			out = append(out, p)
		}
	}
	return out, nil
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
