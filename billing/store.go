package billing

import "context"

// rateAndStore rates every tenant and, when store is set, stores the
// invoices not stored yet. It returns the tenants that could not be
// rated, with the reason.
func (s *Service) rateAndStore(ctx context.Context, p Period, store bool) ([]TenantFailure, error) {
	rated, failures, err := s.rateAll(ctx, p)
	if err != nil || !store {
		return failures, err
	}
	existing, err := s.cfg.Store.Invoices(ctx, InvoiceFilter{Period: p.String()})
	if err != nil {
		return nil, err
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
	if err := s.cfg.Store.SaveInvoices(ctx, fresh); err != nil {
		return nil, err
	}
	s.cfg.Metrics.Finalized.Add(float64(len(fresh)))
	return failures, nil
}
