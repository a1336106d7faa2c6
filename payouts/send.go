package payouts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tally-billing/tally/internal/sendbatch"
	"github.com/tally-billing/tally/money"
)

// StatusRecorder records the outcome of sends.
type StatusRecorder interface {
	// UpdatePayoutStatuses records new statuses of stored payouts.
	UpdatePayoutStatuses(ctx context.Context, ps []Payout) error
}

// sendAll sends the pending payouts, several at a time, and records every
// outcome, also when some sends fail. A crash between a transfer and its
// record leaves the payout pending; the next run sends it again with the
// same idempotency key, which Stripe answers with the same transfer.
func (s *Service) sendAll(ctx context.Context, pending []*Payout) error {
	if len(pending) == 0 {
		return nil
	}
	if s.cfg.Sender == nil {
		for _, p := range pending {
			p.Status = StatusNotSent
		}
		return s.recordStatuses(ctx, pending)
	}
	record := func(ctx context.Context, ps []*Payout) error {
		if err := s.notifySettled(ctx, ps); err != nil { // before the record: a failure sends again, same facts
			return err
		}
		return s.recordStatuses(ctx, ps)
	}
	return sendbatch.Run(ctx, sendbatch.Config{}, pending, s.send, record)
}

func (s *Service) recordStatuses(ctx context.Context, ps []*Payout) error {
	out := make([]Payout, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return s.cfg.Statuses.UpdatePayoutStatuses(ctx, out)
}

// send makes the transfer of a pending payout and sets its outcome; sent
// says whether there is an outcome to record. A refusal
// ([ErrTransferRefused]) marks it failed, which gives the money back to the available balance; any other
// failure leaves it pending, with nothing to record.
func (s *Service) send(ctx context.Context, p *Payout) (sent bool, err error) {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		return false, err
	}
	id, err := s.cfg.Sender.PushTransfer(ctx, Transfer{PayoutID: p.ID, Account: p.Account, Currency: cur,
		Amount: p.Amount, Description: fmt.Sprintf("Tally payout %s as of %s", p.ID, p.AsOf.Format(time.RFC3339))})
	switch {
	case errors.Is(err, ErrTransferRefused):
		p.Status, p.StatusReason, p.FailedAt = StatusFailed, err.Error(), s.cfg.Now().UTC()
		s.cfg.Metrics.Failed.Inc()
		s.log.Error().Err(err).Str("payout", p.ID).Str("provider", p.Provider).Msg("stripe refused the transfer; money available again")
		return true, nil
	case err != nil:
		s.log.Warn().Err(err).Str("payout", p.ID).Msg("sending payout; it stays pending and is retried")
		return false, fmt.Errorf("sending %s: %w", p.ID, err)
	}
	p.Status, p.StatusReason, p.StripeTransferID = StatusPaid, "", id
	s.cfg.Metrics.Paid.Inc()
	return true, nil
}
