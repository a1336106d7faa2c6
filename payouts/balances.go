package payouts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/schemas"
)

// ProviderReads reads what one provider's balance needs.
type ProviderReads interface {
	// ProviderState returns provider's part of the latest whole snapshot
	// at or before asOf (marketplace.Snapshot.Of), at least its balances,
	// held orders and failed payouts, and the events its balance needs
	// after it: provider's marketplace events stored after the
	// snapshot's position or dated after its time, and every sale of
	// another provider stored or dated so naming the order id of one of
	// provider's sales the runs accepted up to the snapshot, or of one of
	// its sales and refunds after it. An event may come twice. Nil if
	// there is no snapshot.
	ProviderState(ctx context.Context, provider string, asOf time.Time) (*marketplace.Snapshot, []schemas.StoredEvent, error)
	// ProviderPayouts returns the latest state of every payout of
	// provider, without statements.
	ProviderPayouts(ctx context.Context, provider string) ([]Payout, error)
}

// Balances returns a provider's balances as of asOf: what a run at asOf
// would see. With snapshots it reads the provider's part of the latest
// one at or before asOf and what came after it (see
// [marketplace.ProviderBalances]); without, or before the first one, the
// provider's whole history (see [Service.deriveProvider]). Either way
// not the whole marketplace.
func (s *Service) Balances(ctx context.Context, provider string, asOf time.Time) (Balances, error) {
	asOf = asOf.UTC()
	bs, ok, err := s.balancesFromSnapshot(ctx, provider, asOf)
	if err != nil {
		return Balances{}, err
	}
	if !ok {
		d, err := s.deriveProvider(ctx, provider, asOf)
		if err != nil {
			return Balances{}, err
		}
		bs = slices.DeleteFunc(d.ledger.Balances(asOf), func(b marketplace.Balance) bool { return b.Provider != provider })
	}
	out := Balances{Provider: provider, AsOf: asOf, Balances: []Balance{}}
	for _, b := range bs {
		out.Balances = append(out.Balances, Balance{Currency: b.Currency.Code, Held: b.Held, Available: b.Available, Paid: b.Paid})
	}
	return out, nil
}

// balancesFromSnapshot answers Balances from the provider's part of the
// latest snapshot; ok is false when there is none to start from. The
// payouts are read beside the snapshot and the events after it; the
// older orders the events name, and the history of providers to derive
// again, only when the engine asks.
func (s *Service) balancesFromSnapshot(ctx context.Context, provider string, asOf time.Time) (bs []marketplace.Balance, ok bool, err error) {
	if s.cfg.Snapshots == nil || s.cfg.Providers == nil {
		return nil, false, nil
	}
	var snap *marketplace.Snapshot
	var recorded []Payout
	var stored []schemas.StoredEvent
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		recorded, err = s.cfg.Providers.ProviderPayouts(gctx, provider)
		return err
	})
	g.Go(func() (err error) {
		snap, stored, err = s.cfg.Providers.ProviderState(gctx, provider, asOf)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, false, fmt.Errorf("reading the balances of %q: %w", provider, err)
	}
	if snap == nil {
		return nil, false, nil
	}
	c := continued{derived: derived{seqOf: map[string]uint64{}}}
	var delta marketplace.Input
	if err := c.add(&delta, stored); err != nil {
		return nil, false, err
	}
	if delta.Payouts, err = toEngineAll(recorded); err != nil {
		return nil, false, err
	}
	bs, err = marketplace.ProviderBalances(s.cfg.Book.Marketplace, snap, provider, delta, s.source(ctx, snap, c.add), asOf)
	if err != nil {
		return nil, false, fmt.Errorf("continuing the balances of %q: %w", provider, err)
	}
	return bs, true, nil
}
