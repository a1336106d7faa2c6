package payouts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/schemas"
)

// SaleJudge judges marketplace sales against the tenants' entitlements
// (SPEC §6): a sale of a provider enrolled as a seller by a tenant whose
// plan at the sale's time has marketplace_seller not_available is not
// entitled (entitlements.State implements it).
type SaleJudge interface {
	// SaleVerdicts returns, by stream sequence, the reason each refused
	// sale of sales is refused with (absent: the sale stands). Each sale is
	// judged against what was stored before it, so the verdict is the same
	// on every replica and every re-run; the judge first folds every event
	// stored at or below through, waiting for it if need be.
	SaleVerdicts(ctx context.Context, sales []schemas.StoredEvent, through uint64) (map[uint64]string, error)
}

// withSellers makes every read of marketplace events of cfg leave out the
// sales cfg.Sellers refuses, so that no derivation (a run from the whole
// history or from a snapshot, a balance) counts them. The reads of a run
// (the whole history, the events after the snapshot) also dead-letter them
// with their reason through cfg.Rejecter, which records an event once.
// Without cfg.Sellers, cfg is returned as it is.
func withSellers(cfg Config) Config {
	if cfg.Sellers == nil {
		return cfg
	}
	g := &sellerGate{judge: cfg.Sellers, rejecter: cfg.Rejecter}
	cfg.Events = gatedSource{cfg.Events, g}
	if cfg.Later != nil {
		cfg.Later = gatedLater{cfg.Later, g}
	}
	if cfg.Providers != nil {
		cfg.Providers = gatedProviders{cfg.Providers, g}
	}
	return cfg
}

// sellerGate filters stored events through the judge.
type sellerGate struct {
	judge    SaleJudge
	rejecter EventRejecter
}

// keep returns stored without the refused sales, dead-lettering them when
// reject is set.
func (g *sellerGate) keep(ctx context.Context, stored []schemas.StoredEvent, reject bool) ([]schemas.StoredEvent, error) {
	var sales []schemas.StoredEvent
	var through uint64
	for _, se := range stored {
		if se.Event.Type == schemas.TypeSaleCompleted {
			sales = append(sales, se)
			through = max(through, se.Seq)
		}
	}
	if len(sales) == 0 {
		return stored, nil
	}
	verdicts, err := g.judge.SaleVerdicts(ctx, sales, through)
	if err != nil {
		return nil, fmt.Errorf("judging sales against the sellers' entitlements: %w", err)
	}
	if len(verdicts) == 0 {
		return stored, nil
	}
	if reject && g.rejecter != nil {
		seqs := make([]uint64, 0, len(verdicts))
		for seq := range verdicts {
			seqs = append(seqs, seq)
		}
		slices.Sort(seqs)
		for _, seq := range seqs {
			if err := g.rejecter.RejectStored(ctx, []uint64{seq}, verdicts[seq]); err != nil {
				return nil, fmt.Errorf("dead-lettering a sale not entitled: %w", err)
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(stored), func(se schemas.StoredEvent) bool {
		_, refused := verdicts[se.Seq]
		return refused && se.Event.Type == schemas.TypeSaleCompleted
	}), nil
}

type gatedSource struct {
	EventSource
	g *sellerGate
}

func (s gatedSource) MarketplaceEvents(ctx context.Context, end time.Time) ([]schemas.StoredEvent, error) {
	stored, err := s.EventSource.MarketplaceEvents(ctx, end)
	if err != nil {
		return nil, err
	}
	return s.g.keep(ctx, stored, true)
}

func (s gatedSource) ProviderEvents(ctx context.Context, provider string, end time.Time) ([]schemas.StoredEvent, error) {
	stored, err := s.EventSource.ProviderEvents(ctx, provider, end)
	if err != nil {
		return nil, err
	}
	return s.g.keep(ctx, stored, false)
}

type gatedLater struct {
	LaterEvents
	g *sellerGate
}

func (l gatedLater) EventsAfter(ctx context.Context, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	stored, err := l.LaterEvents.EventsAfter(ctx, position, at)
	if err != nil {
		return nil, err
	}
	return l.g.keep(ctx, stored, true)
}

func (l gatedLater) ProvidersEvents(ctx context.Context, providers []string) ([]schemas.StoredEvent, error) {
	stored, err := l.LaterEvents.ProvidersEvents(ctx, providers)
	if err != nil {
		return nil, err
	}
	return l.g.keep(ctx, stored, false)
}

func (l gatedLater) OrderEvents(ctx context.Context, orderIDs []string, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	stored, err := l.LaterEvents.OrderEvents(ctx, orderIDs, position, at)
	if err != nil {
		return nil, err
	}
	return l.g.keep(ctx, stored, false)
}

type gatedProviders struct {
	ProviderReads
	g *sellerGate
}

func (p gatedProviders) ProviderState(ctx context.Context, provider string, asOf time.Time) (*marketplace.Snapshot, []schemas.StoredEvent, error) {
	snap, stored, err := p.ProviderReads.ProviderState(ctx, provider, asOf)
	if err != nil {
		return nil, nil, err
	}
	stored, err = p.g.keep(ctx, stored, false)
	return snap, stored, err
}
