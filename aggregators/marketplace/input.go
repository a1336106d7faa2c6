package marketplace

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// Sale is one marketplace.sale.completed event.
type Sale struct {
	// EventID identifies the event (schemas.Identity.MsgID); it only breaks
	// ties between sales of the same order at the same instant. Optional.
	EventID  string
	Provider string // the event's subject
	OrderID  string
	BuyerID  string // shown on statements; optional
	CourseID string // shown on statements; optional
	At       time.Time
	Currency money.Currency
	Gross    decimal.Decimal // what the buyer paid, incl. tax
	Tax      decimal.Decimal
}

// Refund is one marketplace.refund.issued event.
type Refund struct {
	EventID  string // as for [Sale]; optional
	Provider string // the event's subject; must be the sale's provider
	OrderID  string
	RefundID string
	At       time.Time
	Currency money.Currency
	Amount   decimal.Decimal // gross refunded, incl. tax, > 0
}

// KYCChange is one provider.kyc.verified (Verified true, with the Stripe
// connected account) or provider.kyc.revoked event.
type KYCChange struct {
	EventID       string // optional
	Provider      string
	At            time.Time
	Verified      bool
	StripeAccount string // verified only
}

// PayoutStatus is the state of a payout's Stripe transfer.
type PayoutStatus string

// The payout statuses. A failed payout gives its amount back to the
// available balance at its FailedAt; pending and paid payouts keep it
// paid.
const (
	PayoutPending PayoutStatus = "pending" // decided by a run, transfer not confirmed yet
	PayoutPaid    PayoutStatus = "paid"    // transfer created
	PayoutFailed  PayoutStatus = "failed"  // transfer refused (Stripe 4xx)
)

// Input is everything the engine derives from: the marketplace and KYC
// events and the payouts already made. Order within each slice does not
// matter.
type Input struct {
	Sales   []Sale
	Refunds []Refund
	KYC     []KYCChange
	Payouts []Payout
}

// AddEvent appends a decoded marketplace.sale.completed,
// marketplace.refund.issued, provider.kyc.verified or provider.kyc.revoked
// event to in. Any other type yields an error wrapping [ErrNotMarketplace].
func (in *Input) AddEvent(e *schemas.Event) error {
	id := e.Identity().MsgID()
	at := e.Time.UTC()
	switch d := e.Data.(type) {
	case *schemas.SaleCompleted:
		in.Sales = append(in.Sales, Sale{
			EventID: id, Provider: e.Subject, OrderID: d.OrderID, BuyerID: d.BuyerID, CourseID: d.CourseID,
			At: at, Currency: d.Currency, Gross: d.Gross, Tax: d.Tax,
		})
	case *schemas.RefundIssued:
		in.Refunds = append(in.Refunds, Refund{
			EventID: id, Provider: e.Subject, OrderID: d.OrderID, RefundID: d.RefundID,
			At: at, Currency: d.Currency, Amount: d.Amount,
		})
	case *schemas.KYCVerified:
		in.KYC = append(in.KYC, KYCChange{EventID: id, Provider: e.Subject, At: at, Verified: true, StripeAccount: d.StripeAccount})
	case *schemas.KYCRevoked:
		in.KYC = append(in.KYC, KYCChange{EventID: id, Provider: e.Subject, At: at})
	default:
		return fmt.Errorf("adding event %q of type %q: %w", e.ID, e.Type, ErrNotMarketplace)
	}
	return nil
}

// knownCurrency reports whether c is an ISO 4217 currency of the money
// package with its minor units.
func knownCurrency(c money.Currency) bool {
	k, err := money.LookupCurrency(c.Code)
	return err == nil && k == c
}
