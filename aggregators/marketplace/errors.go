package marketplace

import (
	"errors"
	"fmt"
	"time"
)

// Reasons a sale or refund is rejected. A rejected event stays out of the
// ledger; [Derive] reports it as an [*EventError] wrapping one of these, for
// the orchestrator to dead-letter (or, for [ErrUnknownOrder], to retry for a
// bounded time: the sale may still be in flight).
var (
	// ErrInvalidSale is returned for a sale without provider or order id,
	// without a time, with an unknown currency, a negative gross or tax, a
	// tax above the gross, or an amount with more fraction digits than the
	// currency's minor unit.
	ErrInvalidSale = errors.New("invalid sale")

	// ErrDuplicateOrder is returned for a second sale with an order id
	// already sold (the earliest sale of an order id wins).
	ErrDuplicateOrder = errors.New("duplicate order id")

	// ErrInvalidRefund is returned for a refund without order or refund id,
	// without a time, with an unknown currency, or with an amount that is
	// not positive or has more fraction digits than the minor unit.
	ErrInvalidRefund = errors.New("invalid refund")

	// ErrUnknownOrder is returned for a refund of an order no accepted sale
	// has.
	ErrUnknownOrder = errors.New("refund for an unknown order")

	// ErrRefundBeforeSale is returned for a refund whose time is before the
	// time of the sale it refunds.
	ErrRefundBeforeSale = errors.New("refund before its sale")

	// ErrProviderMismatch is returned for a refund whose provider (subject)
	// is not the provider of the sale.
	ErrProviderMismatch = errors.New("refund provider differs from the sale's")

	// ErrCurrencyMismatch is returned for a refund in another currency than
	// the sale's.
	ErrCurrencyMismatch = errors.New("refund currency differs from the sale's")

	// ErrDuplicateRefund is returned for a second refund with the same
	// refund id on the same order (the earliest wins).
	ErrDuplicateRefund = errors.New("duplicate refund id")

	// ErrRefundExceedsSale is returned for a refund that would bring the
	// cumulative refunds of the sale above its gross.
	ErrRefundExceedsSale = errors.New("refund above what remains of the sale")
)

// Errors of the engine's own inputs: they stop [Derive] and [RunPayouts]
// instead of being reported per event, because they are Tally's own records
// or configuration, not outside input.
var (
	// ErrInvalidTerms is returned for marketplace terms the engine cannot
	// use: a fee rate outside [0, 1), a hold that is not positive, a
	// minimum payout that is not positive, or a currency without a
	// minimum payout (a sale may be in any currency).
	ErrInvalidTerms = errors.New("invalid marketplace terms")

	// ErrInvalidPayout is returned for a previous payout that is not
	// consistent: empty or duplicate id, amount not positive, unknown
	// status, a failure time on a payout that did not fail or before its
	// time.
	ErrInvalidPayout = errors.New("invalid payout record")

	// ErrInvalidKYC is returned for a KYC change without provider or time,
	// or a verification without a Stripe account.
	ErrInvalidKYC = errors.New("invalid KYC change")

	// ErrInvalidSnapshot is returned for a [Snapshot] the engine cannot
	// continue: no time, a balance in an unknown currency, an order
	// without provider, or a snapshot asked for before the one a ledger
	// continues.
	ErrInvalidSnapshot = errors.New("invalid ledger snapshot")

	// ErrNotMarketplace is returned by [Input.AddEvent] for an event whose
	// type is not a marketplace or provider type.
	ErrNotMarketplace = errors.New("not a marketplace event")

	// ErrInternal is returned when an invariant of the engine does not
	// hold (a statement that does not sum to its payout). It is a bug.
	ErrInternal = errors.New("marketplace engine invariant broken")
)

// EventKind names the kind of input event an [EventError] is about.
type EventKind string

// The event kinds that can be rejected.
const (
	EventSale   EventKind = "sale"
	EventRefund EventKind = "refund"
)

// EventError is a sale or refund that [Derive] rejected. Err wraps one of
// the sentinel errors above (use errors.Is) and carries the figures.
type EventError struct {
	Kind     EventKind
	EventID  string // the input's EventID, "" if the caller gave none
	Provider string
	OrderID  string
	RefundID string // refunds only
	At       time.Time
	Err      error
}

func (e *EventError) Error() string {
	if e.Kind == EventRefund {
		return fmt.Sprintf("rejecting refund %q of order %q (provider %q): %v", e.RefundID, e.OrderID, e.Provider, e.Err)
	}
	return fmt.Sprintf("rejecting sale of order %q (provider %q): %v", e.OrderID, e.Provider, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }
