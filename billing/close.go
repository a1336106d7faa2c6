package billing

import (
	"context"
	"fmt"
	"time"
)

// PeriodRecord records which periods are closed: a close reads it first
// and records the period once its invoices are stored (store.go).
type PeriodRecord interface {
	// ClosedPeriod returns when period was first closed (zero when it is
	// not) and how many tenants that close could not rate.
	ClosedPeriod(ctx context.Context, period string) (at time.Time, failed int, err error)
	// ClosedPeriods returns every closed period ("YYYY-MM").
	ClosedPeriods(ctx context.Context) ([]string, error)
	// RecordClosedPeriod records period closed at at, with the number of
	// invoices it stored and of tenants it could not rate.
	RecordClosedPeriod(ctx context.Context, period string, at time.Time, invoices, failed int) error
}

// CloseResult is what a period close produced.
type CloseResult struct {
	Period   string    `json:"period"`
	Invoices []Invoice `json:"invoices"`
	// AlreadyClosed is true when the period had been closed before; the
	// invoices are those of the first close.
	AlreadyClosed bool `json:"already_closed"`
	// Failures are the tenants that could not be rated, with why. The
	// period is closed without them; every later close retries them and
	// bills their month once they can be rated (see docs/billing.md).
	// Never null: an empty list when every tenant was rated.
	Failures []TenantFailure `json:"failures"`
}

// TenantFailure is a tenant whose invoices a close could not rate.
type TenantFailure struct {
	Tenant string `json:"tenant"`
	Reason string `json:"reason"`
}

// ClosePeriod rates and finalizes every tenant's invoices of period p,
// stores them, records the period as closed and sends the invoices. The
// order makes every step safe to repeat: invoice ids are derived from
// (tenant, period, kind), an invoice already stored is never rated again,
// and invoices still waiting to be sent are sent by the next call. A
// tenant that cannot be rated never blocks the others: the period is
// closed without it and the failure is in the result (see failures.go).
// A closed period answers with its invoices, rates again only to report
// the tenants that still fail, and stores nothing new.
//
// The steps, each in the file named for it: load (load.go: activity,
// stored invoices, closed periods), rate (rate.go, with adjust.go for the
// closed months late events changed and prepaid.go for contract years),
// store (store.go: the invoices not stored yet, then the close), send
// (send.go). The unbilled report (unbilled.go) reads the same inputs.
func (s *Service) ClosePeriod(ctx context.Context, p Period) (CloseResult, error) {
	now := s.cfg.Now()
	if now.Before(p.End()) {
		return CloseResult{}, fmt.Errorf("closing %s before %s: %w", p, p.End().Format(time.RFC3339), ErrPeriodOpen)
	}
	res := CloseResult{Period: p.String(), Failures: []TenantFailure{}}
	closedAt, failedBefore, err := s.cfg.Periods.ClosedPeriod(ctx, p.String())
	if err != nil {
		return res, fmt.Errorf("reading whether %s is closed: %w", p, err)
	}
	res.AlreadyClosed = !closedAt.IsZero()

	// A re-close stores nothing new: it rates again only when the first
	// close left tenants unrated, to report whether they still fail.
	var rated []Invoice
	var failures []TenantFailure
	if !res.AlreadyClosed || failedBefore > 0 {
		rated, failures, err = s.rateAll(ctx, p)
	}
	if err == nil && !res.AlreadyClosed {
		err = s.storeNew(ctx, p, rated)
	}
	if err != nil {
		s.cfg.Metrics.Closes.WithLabelValues("failed").Inc()
		return res, err
	}
	res.Failures = append(res.Failures, failures...)
	s.reportFailures(p, failures)

	invs, err := s.recordClose(ctx, p, now, res.AlreadyClosed, len(failures))
	if err != nil {
		return res, err
	}
	res.Invoices = invs
	if err := s.sendAll(ctx, invs); err != nil {
		return res, fmt.Errorf("sending invoices of %s (they stay finalized and are sent by the next close): %w", p, err)
	}
	return res, nil
}
