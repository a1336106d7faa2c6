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
// and the payouts recorded; dead-letter refunds that can never apply;
// append new ledger entries; save the run's payouts as pending; record the
// run; send each pending payout. Re-running the same asOf pays nothing
// more: the run is recorded, and the engine counts the payouts already
// made; a payout left pending by a crash is sent by the next call.
func (s *Service) RunPayouts(ctx context.Context, asOf time.Time) (RunResult, error) {
	asOf = asOf.UTC()
	res := RunResult{AsOf: asOf}
	ranAt, err := s.cfg.Store.PayoutRun(ctx, asOf)
	if err != nil {
		return res, err
	}
	if ranAt.IsZero() {
		if err := s.decide(ctx, asOf); err != nil {
			return res, err
		}
	} else {
		res.AlreadyRun = true
	}
	all, err := s.cfg.Store.Payouts(ctx, "")
	if err != nil {
		return res, err
	}
	res.Payouts = []Payout{}
	var pending []*Payout
	for i := range all {
		if all[i].AsOf.Equal(asOf) {
			res.Payouts = append(res.Payouts, all[i])
		}
	}
	for i := range res.Payouts {
		if res.Payouts[i].Status == StatusPending {
			pending = append(pending, &res.Payouts[i])
		}
	}
	if err := s.sendAll(ctx, pending); err != nil {
		return res, fmt.Errorf("sending payouts (they stay pending and are sent by the next run call): %w", err)
	}
	return res, nil
}
