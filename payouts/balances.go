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

// ProviderReads reads one provider's part of the ledger state.
type ProviderReads interface {
	// ProviderSnapshot returns provider's part of the latest whole
	// snapshot at or before asOf (marketplace.Snapshot.Of), at least its
	// balances, held orders and failed payouts; nil if none.
	ProviderSnapshot(ctx context.Context, provider string, asOf time.Time) (*marketplace.Snapshot, error)
	// ProviderPayouts returns the latest state of every payout of
	// provider, without statements.
	ProviderPayouts(ctx context.Context, provider string) ([]Payout, error)
}

// ProviderLaterEvents reads what one provider's balance needs besides its
// part of a snapshot.
type ProviderLaterEvents interface {
	// ProviderEventsAfter returns, for a snapshot at position, as of at:
	// provider's marketplace events stored after position or dated after
	// at; every sale and refund naming the order id of one of those,
	// whenever stored; and every sale of another provider stored after
	// position or dated after at naming the order id of one of
	// provider's sales or refunds. An event may come twice.
	ProviderEventsAfter(ctx context.Context, provider string, position uint64, at time.Time) ([]StoredEvent, error)
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
// payouts are read beside the snapshot, the events once it is known.
func (s *Service) balancesFromSnapshot(ctx context.Context, provider string, asOf time.Time) (bs []marketplace.Balance, ok bool, err error) {
	if s.cfg.Snapshots == nil || s.cfg.Providers == nil || s.cfg.ProviderEvents == nil {
		return nil, false, nil
	}
	var snap *marketplace.Snapshot
	var recorded []Payout
	var stored []StoredEvent
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		recorded, err = s.cfg.Providers.ProviderPayouts(gctx, provider)
		return err
	})
	g.Go(func() (err error) {
		if snap, err = s.cfg.Providers.ProviderSnapshot(gctx, provider, asOf); err != nil || snap == nil {
			return err
		}
		stored, err = s.cfg.ProviderEvents.ProviderEventsAfter(gctx, provider, snap.Position, snap.At)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, false, fmt.Errorf("reading the balances of %q: %w", provider, err)
	}
	if snap == nil {
		return nil, false, nil
	}
	// After the snapshot: the delta. Before: the events of the orders the
	// provider's delta names, which answer for them what the snapshot
	// counted.
	var delta, counted marketplace.Input
	named := map[string]bool{}
	seen := make(map[string]bool, len(stored))
	for _, se := range stored {
		e, err := schemas.Decode(se.Payload)
		if err != nil {
			return nil, false, fmt.Errorf("decoding stored event %d: %w", se.Seq, err)
		}
		id := e.Identity().MsgID()
		if seen[id] {
			continue
		}
		seen[id] = true
		in := &counted
		if se.Seq > snap.Position || e.Time.After(snap.At) {
			in = &delta
			if e.Subject == provider {
				named[orderOf(e)] = true
			}
		}
		if err := in.AddEvent(e); err != nil {
			return nil, false, err
		}
	}
	if delta.Payouts, err = toEngineAll(recorded); err != nil {
		return nil, false, err
	}
	var c continued
	c.seqOf = map[string]uint64{}
	src := s.source(ctx, snap, c.add)
	readOrders := src.Orders
	src.Orders = func(ids []string) (marketplace.Input, error) {
		if slices.ContainsFunc(ids, func(id string) bool { return !named[id] }) {
			return readOrders(ids)
		}
		return counted, nil // the engine keeps those of ids
	}
	bs, err = marketplace.ProviderBalances(s.cfg.Book.Marketplace, snap, provider, delta, src, asOf)
	if err != nil {
		return nil, false, fmt.Errorf("continuing the balances of %q: %w", provider, err)
	}
	return bs, true, nil
}

// orderOf is the order id a sale or refund names ("" for other events).
func orderOf(e *schemas.Event) string {
	switch d := e.Data.(type) {
	case *schemas.SaleCompleted:
		return d.OrderID
	case *schemas.RefundIssued:
		return d.OrderID
	}
	return ""
}
