package payouts

import (
	"context"
	"fmt"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// EventSource reads the marketplace events a derivation from the whole
// history needs: every marketplace.sale.completed,
// marketplace.refund.issued, provider.kyc.verified and
// provider.kyc.revoked event, of the whole marketplace or of one
// provider.
type EventSource interface {
	// MarketplaceEvents returns every marketplace event with time at or
	// before end. A payout run without snapshots derives the whole
	// ledger from them.
	MarketplaceEvents(ctx context.Context, end time.Time) ([]schemas.StoredEvent, error)
	// ProviderEvents returns, with time at or before end, every
	// marketplace event whose subject is provider, and every sale of
	// another provider with the order id of one of provider's sales or
	// refunds. Those sales matter: the earliest sale of an order id claims
	// it, so they decide whether provider's own sales and refunds are
	// accepted. Nothing else changes provider's balances. The order of the
	// events does not matter.
	ProviderEvents(ctx context.Context, provider string, end time.Time) ([]schemas.StoredEvent, error)
}

// derived is the ledger as of an instant, with what it was built from.
type derived struct {
	ledger *marketplace.Ledger
	seqOf  map[string]uint64 // event id → stream sequence
}

// derive builds the ledger of the whole marketplace from every marketplace
// event at or before end and every payout recorded: what a run decides on.
func (s *Service) derive(ctx context.Context, end time.Time) (*derived, error) {
	stored, err := s.cfg.Events.MarketplaceEvents(ctx, end)
	if err != nil {
		return nil, fmt.Errorf("loading marketplace events: %w", err)
	}
	recorded, err := s.cfg.Payouts.Payouts(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("loading payouts: %w", err)
	}
	return s.build(stored, recorded)
}

// deriveProvider builds a ledger in which provider's entries as of end are
// those of [Service.derive]'s, from provider's events, the sales of other
// providers that claim one of its order ids first (see
// [EventSource.ProviderEvents]) and provider's payouts. The entries of
// other providers in it are partial: read only provider's.
func (s *Service) deriveProvider(ctx context.Context, provider string, end time.Time) (*derived, error) {
	stored, err := s.cfg.Events.ProviderEvents(ctx, provider, end)
	if err != nil {
		return nil, fmt.Errorf("loading the marketplace events of %q: %w", provider, err)
	}
	var recorded []Payout
	if s.cfg.Providers != nil { // by key, without statements
		recorded, err = s.cfg.Providers.ProviderPayouts(ctx, provider)
	} else {
		recorded, err = s.cfg.Payouts.Payouts(ctx, provider)
	}
	if err != nil {
		return nil, fmt.Errorf("loading the payouts of %q: %w", provider, err)
	}
	return s.build(stored, recorded)
}

// build derives the ledger of stored events and recorded payouts.
func (s *Service) build(stored []schemas.StoredEvent, recorded []Payout) (*derived, error) {
	var in marketplace.Input
	d := &derived{seqOf: make(map[string]uint64, len(stored))}
	for _, se := range stored {
		e := se.Event
		if _, dup := d.seqOf[e.Identity().MsgID()]; dup {
			continue // a copy of a stored row, read without FINAL
		}
		if err := in.AddEvent(e); err != nil {
			return nil, err
		}
		d.seqOf[e.Identity().MsgID()] = se.Seq
	}
	var err error
	if in.Payouts, err = toEngineAll(recorded); err != nil {
		return nil, err
	}
	if d.ledger, err = marketplace.Derive(s.cfg.Book.Marketplace, in); err != nil {
		return nil, fmt.Errorf("deriving the ledger: %w", err)
	}
	return d, nil
}

// toEngineAll turns recorded payouts into the engine's input.
func toEngineAll(ps []Payout) ([]marketplace.Payout, error) {
	out := make([]marketplace.Payout, 0, len(ps))
	for _, p := range ps {
		mp, err := toEngine(p)
		if err != nil {
			return nil, err
		}
		out = append(out, mp)
	}
	return out, nil
}

// toEngine turns a recorded payout into the engine's input. Pending,
// not-sent and paid payouts count as paid out; failed ones give the money
// back at their failure time.
func toEngine(p Payout) (marketplace.Payout, error) {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		return marketplace.Payout{}, err
	}
	out := marketplace.Payout{ID: p.ID, Provider: p.Provider, Currency: cur, At: p.AsOf, Amount: p.Amount.Round(cur.MinorUnits),
		StripeAccount: p.Account, Status: marketplace.PayoutPaid}
	switch p.Status {
	case StatusPending:
		out.Status = marketplace.PayoutPending
	case StatusFailed:
		out.Status, out.FailedAt, out.FailureReason = marketplace.PayoutFailed, p.FailedAt, p.StatusReason
	}
	return out, nil
}
