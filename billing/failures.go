package billing

// A tenant that cannot be rated does not stop a close (SPEC §5): the
// other tenants are stored, the period is recorded closed and their
// invoices are sent; the failure is reported in [CloseResult.Failures],
// logged and counted. Nothing is stored for the failed tenant, so the
// month stays what the adjustment step already knows how to bill: a
// closed month with no invoice. Every later close re-rates it with
// everything known then and, once the tenant can be rated, bills the
// whole month as adjustment lines naming it on the tenant's next monthly
// invoice (and issues any prepaid invoice of it, see prepaid.go). The
// adjustment step compares with everything billed for the month, so the
// month is billed once whichever close gets there. A re-close of the
// failed period stores nothing new (the period is closed) and rates it
// again only to report the tenants that still fail.

// reportFailures logs and counts the tenants a close of p could not rate.
func (s *Service) reportFailures(p Period, failures []TenantFailure) {
	if len(failures) == 0 {
		return
	}
	s.cfg.Metrics.TenantFailures.Add(float64(len(failures)))
	for _, f := range failures {
		s.log.Error().Str("period", p.String()).Str("tenant", f.Tenant).Str("reason", f.Reason).
			Msg("tenant could not be rated; the period closes without it and the next close retries it")
	}
}
