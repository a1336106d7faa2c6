package billing

import (
	"context"
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/stripesync"
)

// ActivitySource loads what rating needs from the event store.
type ActivitySource interface {
	// Activity returns every tenant's subscription, seat and pack events
	// and monthly credit sums before end.
	Activity(ctx context.Context, end time.Time) (map[string]*TenantActivity, error)
	// CreditRows sums each tenant's credits between consecutive cuts.
	CreditRows(ctx context.Context, end time.Time, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error)
}

// InvoiceStore keeps invoices and closed periods.
type InvoiceStore interface {
	Invoices(ctx context.Context, f InvoiceFilter) ([]Invoice, error)
	// SaveInvoices stores new invoices with their lines.
	SaveInvoices(ctx context.Context, invs []Invoice) error
	// UpdateInvoiceStatuses records new statuses of stored invoices.
	UpdateInvoiceStatuses(ctx context.Context, invs []Invoice) error
	ClosedPeriod(ctx context.Context, period string) (time.Time, error)
	ClosedPeriods(ctx context.Context) ([]string, error)
	RecordClosedPeriod(ctx context.Context, period string, at time.Time, invoices int) error
	StripeCustomer(ctx context.Context, tenant string) (string, error)
	SaveStripeCustomer(ctx context.Context, tenant, customerID string, at time.Time) error
}

// InvoiceSender pushes a finalized invoice to Stripe.
type InvoiceSender interface {
	PushInvoice(ctx context.Context, inv stripesync.Invoice) (stripesync.InvoiceResult, error)
}

// EventRejecter records stored events that billing cannot apply (a seat
// released that was not held) in the dead-letter store, with the reason.
type EventRejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}
