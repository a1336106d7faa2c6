package payouts

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// Notifier hears of payout facts, for the webhooks (webhooks.Facts
// implements it). A call may repeat facts told before (a crash and
// retry, a re-run): the notifier keeps one message per fact. A call
// returns once the facts are stored durably; an error stops the step
// that told them, which is then repeated.
type Notifier interface {
	// PayoutsSettled tells of payouts Stripe accepted (paid) or refused
	// (failed).
	PayoutsSettled(ctx context.Context, ps []Payout) error
	// PayoutsHeld tells of the money a run as of asOf could not pay
	// because the provider had no KYC verification in force.
	PayoutsHeld(ctx context.Context, asOf time.Time, held []Held) error
}

// Held is a provider's available money, at or above the minimum payout,
// that a run did not pay for want of KYC verification.
type Held struct {
	Provider  string          `json:"provider"`
	Currency  string          `json:"currency"`
	Available decimal.Decimal `json:"available"`
}

// notifySettled tells the notifier, if any, of the paid and failed
// payouts among ps; it runs before their statuses are recorded.
func (s *Service) notifySettled(ctx context.Context, ps []*Payout) error {
	if s.cfg.Notifier == nil {
		return nil
	}
	var out []Payout
	for _, p := range ps {
		if p.Status == StatusPaid || p.Status == StatusFailed {
			out = append(out, *p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return s.cfg.Notifier.PayoutsSettled(ctx, out)
}

// notifyHeld tells the notifier, if any, of the balances a run carried
// for want of KYC; it runs before the run is recorded, so a run that
// stops before it tells them again.
func (s *Service) notifyHeld(ctx context.Context, asOf time.Time, carried []marketplace.Carry) error {
	if s.cfg.Notifier == nil {
		return nil
	}
	var held []Held
	for _, c := range carried {
		if c.Reason == marketplace.CarryNotVerified {
			held = append(held, Held{Provider: c.Provider, Currency: c.Currency.Code, Available: c.Available})
		}
	}
	if len(held) == 0 {
		return nil
	}
	return s.cfg.Notifier.PayoutsHeld(ctx, asOf, held)
}
