package payouts

import (
	"context"
	"errors"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// reject dead-letters the sales and refunds the engine rejected, each with
// its reason. A refund for an order with no sale may be waiting for a sale
// still in flight: it is dead-lettered only once UnknownOrderGrace has
// passed since its time.
func (s *Service) reject(ctx context.Context, d *derived, asOf time.Time) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	for _, r := range d.ledger.Rejected {
		if errors.Is(r.Err, marketplace.ErrUnknownOrder) && asOf.Sub(r.At) < s.cfg.UnknownOrderGrace {
			continue
		}
		seq, ok := d.seqOf[r.EventID]
		if !ok {
			continue
		}
		if err := s.cfg.Rejecter.RejectStored(ctx, []uint64{seq}, r.Error()); err != nil {
			return err
		}
	}
	return nil
}
