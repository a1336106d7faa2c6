package billing

import "errors"

var (
	// ErrPeriodOpen refuses to close a period that has not ended.
	ErrPeriodOpen = errors.New("period has not ended")
	// ErrUnknownPlan marks a subscription to a plan the price book lacks.
	ErrUnknownPlan = errors.New("unknown plan")
	// ErrUnknownPriceBook marks a closed month billed under a price book
	// version billing has no book for: its late events cannot be rated.
	ErrUnknownPriceBook = errors.New("price book of a billed month not available")
	// ErrSendRefused is wrapped by an [InvoiceSender]'s error when the
	// payment provider refused the invoice for good (Stripe answered with
	// a 4xx, the invoice cannot be expressed there, or the provider holds
	// a different invoice under its id): billing marks it send_failed
	// with the reason and does not send it again.
	ErrSendRefused = errors.New("invoice refused by the payment provider")
)
