package billing

import "context"

// Notifier hears of invoice facts, for the webhooks (webhooks.Facts
// implements it). Each call may repeat facts told before (a re-close, a
// crash and retry): the notifier keeps one message per fact. A call
// returns once the facts are stored durably; an error stops the step
// that told them, which is then repeated (the facts are told again).
type Notifier interface {
	// InvoicesFinalized tells of stored invoices (each was finalized).
	InvoicesFinalized(ctx context.Context, invs []Invoice) error
	// InvoicesSent tells of invoices Stripe finalized (status sent).
	InvoicesSent(ctx context.Context, invs []Invoice) error
}

// notifyFinalized tells the notifier, if any, of invs.
func (s *Service) notifyFinalized(ctx context.Context, invs []Invoice) error {
	if s.cfg.Notifier == nil || len(invs) == 0 {
		return nil
	}
	return s.cfg.Notifier.InvoicesFinalized(ctx, invs)
}

// notifySent tells the notifier, if any, of the sent invoices among invs.
func (s *Service) notifySent(ctx context.Context, invs []Invoice) error {
	if s.cfg.Notifier == nil {
		return nil
	}
	var sent []Invoice
	for _, inv := range invs {
		if inv.Status == StatusSent {
			sent = append(sent, inv)
		}
	}
	if len(sent) == 0 {
		return nil
	}
	return s.cfg.Notifier.InvoicesSent(ctx, sent)
}
