package billing

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/pricebook"
)

// Config wires a Service.
type Config struct {
	// Book is the current price book: it rates open periods.
	Book *pricebook.Book
	// Books gives every earlier price book version: a closed month is
	// re-rated for adjustments with the version it was billed under
	// (pricebook.Catalog). Optional: without it a month billed under
	// another version than Book fails its tenant (ErrUnknownPriceBook).
	Books    PriceBooks
	Activity ActivitySource
	// Invoices keeps the invoices, Periods the closed periods.
	Invoices InvoiceStore
	Periods  PeriodRecord
	// Sender pushes invoices to Stripe; nil is a dry run: invoices are
	// finalized and marked not_sent.
	Sender InvoiceSender
	// Customers keeps the tenants' customer ids the Sender returns;
	// required with a Sender.
	Customers CustomerIDs
	// Rejecter dead-letters seat releases without an assignment (optional).
	Rejecter EventRejecter
	// Notifier hears of finalized and sent invoices (optional: webhooks).
	Notifier Notifier
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  zerolog.Logger
	Metrics *Metrics
}

// Metrics count what billing did.
type Metrics struct {
	Finalized  prometheus.Counter
	Sent       prometheus.Counter
	SendFailed prometheus.Counter
	// TenantFailures counts tenants a close could not rate.
	TenantFailures prometheus.Counter
	Closes         *prometheus.CounterVec
}

// NewMetrics registers the billing metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Finalized:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_invoices_finalized_total", Help: "Invoices finalized."}),
		Sent:       prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_invoices_sent_total", Help: "Invoices finalized in Stripe."}),
		SendFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_invoices_send_failed_total", Help: "Invoices Stripe refused (4xx)."}),
		TenantFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_close_tenant_failures_total", Help: "Tenants a period close could not rate (each close, re-closes included, counts its own).",
		}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_period_closes_total", Help: "Period closes by outcome (closed, already_closed, failed).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.Finalized, m.Sent, m.SendFailed, m.TenantFailures, m.Closes)
	return m
}

// Service closes periods, sends invoices and answers the billing reads.
type Service struct {
	cfg Config
	log zerolog.Logger
}

// New returns a Service or an error for a missing dependency.
func New(cfg Config) (*Service, error) {
	if cfg.Book == nil || cfg.Activity == nil || cfg.Invoices == nil || cfg.Periods == nil {
		return nil, errors.New("billing: price book, activity source, invoice store and period record are required")
	}
	if cfg.Sender != nil && cfg.Customers == nil {
		return nil, errors.New("billing: a sender needs the customer ids")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	return &Service{cfg: cfg, log: cfg.Logger.With().Str("component", "billing").Logger()}, nil
}

// IsClosed reports whether p has been closed.
func (s *Service) IsClosed(ctx context.Context, p Period) (bool, error) {
	at, _, err := s.cfg.Periods.ClosedPeriod(ctx, p.String())
	return !at.IsZero(), err
}

// Close is ClosePeriod (for the scheduler).
func (s *Service) Close(ctx context.Context, p Period) (CloseResult, error) {
	return s.ClosePeriod(ctx, p)
}

// Invoices lists invoices; empty filters match all.
func (s *Service) Invoices(ctx context.Context, tenant, period string) ([]Invoice, error) {
	return s.cfg.Invoices.Invoices(ctx, InvoiceFilter{Tenant: tenant, Period: period})
}
