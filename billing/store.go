package billing

import (
	"context"
	"fmt"
	"time"
)

// InvoiceStore keeps invoices. Each invoice is stored once (SaveInvoices)
// and its status then changes (UpdateInvoiceStatuses); reads return the
// latest state of each.
type InvoiceStore interface {
	// Invoices returns the stored invoices matching f, with their lines.
	Invoices(ctx context.Context, f InvoiceFilter) ([]Invoice, error)
	// SaveInvoices stores new invoices with their lines.
	SaveInvoices(ctx context.Context, invs []Invoice) error
	// UpdateInvoiceStatuses records new statuses of stored invoices.
	UpdateInvoiceStatuses(ctx context.Context, invs []Invoice) error
}

// storeNew stores the invoices among rated that are not stored yet, as
// finalized. An invoice's id names its tenant, period and kind, so one
// stored by an earlier close that stopped before recording the period is
// found here and not stored twice.
func (s *Service) storeNew(ctx context.Context, p Period, rated []Invoice) error {
	existing, err := s.cfg.Invoices.Invoices(ctx, InvoiceFilter{Period: p.String()})
	if err != nil {
		return fmt.Errorf("reading the invoices of %s: %w", p, err)
	}
	have := map[string]bool{}
	for _, inv := range existing {
		have[inv.ID] = true
	}
	var fresh []Invoice
	for _, inv := range rated {
		if !have[inv.ID] {
			fresh = append(fresh, inv)
		}
	}
	if err := s.cfg.Invoices.SaveInvoices(ctx, fresh); err != nil {
		return fmt.Errorf("storing %d invoices of %s: %w", len(fresh), p, err)
	}
	s.cfg.Metrics.Finalized.Add(float64(len(fresh)))
	return nil
}

// recordClose returns the stored invoices of p and, unless p was closed
// before, records p as closed with their count. It runs after storeNew:
// a period is recorded closed only once its invoices are stored.
func (s *Service) recordClose(ctx context.Context, p Period, now time.Time, alreadyClosed bool, failed int) ([]Invoice, error) {
	invs, err := s.cfg.Invoices.Invoices(ctx, InvoiceFilter{Period: p.String()})
	if err != nil {
		return nil, fmt.Errorf("reading the invoices of %s: %w", p, err)
	}
	if err := s.notifyFinalized(ctx, invs); err != nil { // every close tells them, before the close is recorded
		return invs, fmt.Errorf("notifying the invoices of %s: %w", p, err)
	}
	if alreadyClosed {
		s.cfg.Metrics.Closes.WithLabelValues("already_closed").Inc()
		return invs, nil
	}
	if err := s.cfg.Periods.RecordClosedPeriod(ctx, p.String(), now, len(invs), failed); err != nil {
		return invs, fmt.Errorf("recording %s closed: %w", p, err)
	}
	s.cfg.Metrics.Closes.WithLabelValues("closed").Inc()
	s.log.Info().Str("period", p.String()).Int("invoices", len(invs)).Int("failed_tenants", failed).Msg("period closed")
	return invs, nil
}
