package billing

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
)

// ActivitySource loads what rating needs from the event store.
type ActivitySource interface {
	// Activity returns every tenant's subscription, seat and pack events
	// and monthly credit sums before end.
	Activity(ctx context.Context, end time.Time) (map[string]*TenantActivity, error)
	// CreditRows sums each tenant's credits between consecutive cuts.
	CreditRows(ctx context.Context, end time.Time, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error)
}

// The stores billing writes to are declared beside the step that uses
// them: InvoiceStore (store.go), PeriodRecord (close.go), CustomerIDs
// (send.go).

// InvoiceSender hands a finalized invoice to the payment provider
// (stripesync.InvoiceSender sends it to Stripe).
//
// SendInvoice must be safe to call again for the same invoice, after a
// failure or after a success whose outcome billing did not record (a
// crash between sending and recording): the provider then holds one
// invoice, never two. An error wrapping [ErrSendRefused] means the
// provider refused the invoice for good: billing marks it send_failed
// with the error's text as the reason and never sends it again. Any other
// error is taken as transient: the invoice stays finalized and the next
// close sends it again.
type InvoiceSender interface {
	SendInvoice(ctx context.Context, inv InvoicePush) (PushedInvoice, error)
}

// InvoicePush is what billing asks an [InvoiceSender] to send: a stored
// invoice's id, tenant, period and lines, and the tenant's customer id at
// the provider when billing knows it.
type InvoicePush struct {
	ID       string
	Tenant   string
	Period   string // "YYYY-MM"
	Currency money.Currency
	Lines    []PushLine
	// CustomerID is the tenant's customer at the provider, saved from an
	// earlier send; empty the first time (the sender finds or creates it).
	CustomerID string
}

// PushLine is one line of an [InvoicePush].
type PushLine struct {
	ID          string // unique within the invoice: "L1", "L2", ... in line order
	Description string
	Amount      decimal.Decimal // in the invoice's currency; negative for a credit
}

// PushedInvoice names what the provider holds after a send.
type PushedInvoice struct {
	CustomerID string // the tenant's customer, saved on the first send
	InvoiceID  string // the provider's invoice id
}

// EventRejecter records stored events that billing cannot apply (a seat
// released that was not held) in the dead-letter store, with the reason.
type EventRejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}
