package rating

import "errors"

var (
	// ErrNotSubscribed is returned for a period in which the tenant has no
	// subscribed time: nothing is billed and the usage of the period belongs
	// on the unbilled report.
	ErrNotSubscribed = errors.New("no subscription in the period")

	// ErrInvalidSubscription is returned for a subscription change that the
	// price book cannot rate (unknown plan, add-on not available on the
	// plan, currency not priced, ...).
	ErrInvalidSubscription = errors.New("invalid subscription")

	// ErrAmbiguousChanges is returned for two different subscription changes
	// at the same instant: which one wins cannot be known.
	ErrAmbiguousChanges = errors.New("different subscription changes at the same instant")

	// ErrCurrencyChange is returned when a tenant's currency changes while
	// subscribed, or when one period would need two currencies: an invoice
	// has one currency. Cancel, then start in the new currency from a new
	// period.
	ErrCurrencyChange = errors.New("currency changed during a subscription")

	// ErrCurrencyMismatch is returned for a pack purchased in another
	// currency than the subscription's.
	ErrCurrencyMismatch = errors.New("pack currency differs from the subscription currency")

	// ErrMismatch is returned by [Adjustments] when the re-rating does not
	// describe the same invoice (tenant, currency or price-book version).
	ErrMismatch = errors.New("re-rating does not match the finalized invoice")

	// ErrBadPeriod is returned for a period that is not YYYY-MM.
	ErrBadPeriod = errors.New("bad period")
)
