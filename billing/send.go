package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tally-billing/tally/internal/sendbatch"
	"github.com/tally-billing/tally/money"
)

// CustomerIDs keeps each tenant's customer id at the payment provider,
// saved from its first send and passed to the next ones.
type CustomerIDs interface {
	// StripeCustomer returns tenant's customer id; empty if none is saved.
	StripeCustomer(ctx context.Context, tenant string) (string, error)
	// SaveStripeCustomer saves tenant's customer id, learnt at at.
	SaveStripeCustomer(ctx context.Context, tenant, customerID string, at time.Time) error
}

// sendAll sends the finalized invoices among invs and records each
// outcome. One tenant's invoices go one after the other (the first may
// create the tenant's Stripe customer); tenants go several at a time.
func (s *Service) sendAll(ctx context.Context, invs []Invoice) error {
	if s.cfg.Sender == nil { // a dry run: nothing leaves, one status write
		var changed []Invoice
		for i := range invs {
			if invs[i].Status == StatusFinalized {
				invs[i].Status = StatusNotSent
				changed = append(changed, invs[i])
			}
		}
		return s.cfg.Invoices.UpdateInvoiceStatuses(ctx, changed)
	}
	var groups [][]*Invoice
	index := map[string]int{}
	for i := range invs {
		if invs[i].Status != StatusFinalized {
			continue
		}
		g, ok := index[invs[i].Tenant]
		if !ok {
			g = len(groups)
			index[invs[i].Tenant] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], &invs[i])
	}
	send := func(ctx context.Context, group []*Invoice) (bool, error) {
		var errs []error
		for _, inv := range group {
			if err := s.send(ctx, inv); err != nil {
				errs = append(errs, err)
			}
		}
		return true, errors.Join(errs...)
	}
	record := func(ctx context.Context, groups [][]*Invoice) error {
		var changed []Invoice
		for _, group := range groups {
			for _, inv := range group {
				if inv.Status != StatusFinalized {
					changed = append(changed, *inv)
				}
			}
		}
		if err := s.notifySent(ctx, changed); err != nil { // before the record: a failure sends again, same facts
			return err
		}
		return s.cfg.Invoices.UpdateInvoiceStatuses(ctx, changed)
	}
	return sendbatch.Run(ctx, sendbatch.Config{}, groups, send, record)
}

// send pushes one finalized invoice to Stripe and sets the outcome, which
// the caller records. A refusal (4xx) marks it send_failed with the
// reason and is not retried; any other failure leaves it finalized for
// the next attempt.
func (s *Service) send(ctx context.Context, inv *Invoice) error {
	log := s.log.With().Str("invoice", inv.ID).Str("tenant", inv.Tenant).Logger()
	cur, err := money.LookupCurrency(inv.Currency)
	if err != nil {
		return err
	}
	customer, err := s.cfg.Customers.StripeCustomer(ctx, inv.Tenant)
	if err != nil {
		return err
	}
	req := InvoicePush{ID: inv.ID, Tenant: inv.Tenant, Period: inv.Period, Currency: cur, CustomerID: customer}
	for i, l := range inv.Lines {
		req.Lines = append(req.Lines, PushLine{ID: fmt.Sprintf("L%d", i+1), Description: l.Description, Amount: l.Amount})
	}
	res, err := s.cfg.Sender.SendInvoice(ctx, req)
	switch {
	case errors.Is(err, ErrSendRefused):
		inv.Status, inv.StatusReason = StatusSendFailed, err.Error()
		s.cfg.Metrics.SendFailed.Inc()
		log.Error().Err(err).Msg("stripe refused the invoice; marked send_failed")
		return nil
	case err != nil:
		log.Warn().Err(err).Msg("sending invoice; it stays finalized and is retried")
		return fmt.Errorf("sending %s: %w", inv.ID, err)
	}
	if customer == "" && res.CustomerID != "" {
		if err := s.cfg.Customers.SaveStripeCustomer(ctx, inv.Tenant, res.CustomerID, s.cfg.Now()); err != nil {
			return err
		}
	}
	inv.Status, inv.StatusReason = StatusSent, ""
	inv.StripeCustomerID, inv.StripeInvoiceID = res.CustomerID, res.InvoiceID
	s.cfg.Metrics.Sent.Inc()
	return nil
}
