package payouts

import (
	"context"
	"fmt"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

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
	recorded, err := s.cfg.Store.Payouts(ctx, "")
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
	if s.cfg.Snapshots != nil { // without statements
		recorded, err = s.cfg.Snapshots.RecordedPayouts(ctx, provider)
	} else {
		recorded, err = s.cfg.Store.Payouts(ctx, provider)
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
	for _, p := range recorded {
		mp, err := toEngine(p)
		if err != nil {
			return nil, err
		}
		in.Payouts = append(in.Payouts, mp)
	}
	var err error
	if d.ledger, err = marketplace.Derive(s.cfg.Book.Marketplace, in); err != nil {
		return nil, fmt.Errorf("deriving the ledger: %w", err)
	}
	return d, nil
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
