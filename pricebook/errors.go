package pricebook

import "errors"

var (
	// ErrInvalid is wrapped by every validation error of [Parse] and
	// [Load]; the error is a [*FieldError] naming the bad field.
	ErrInvalid = errors.New("invalid price book")

	// ErrUnknownPlan is returned for a plan key the book does not define.
	ErrUnknownPlan = errors.New("unknown plan")

	// ErrUnknownAddon is returned for an add-on key the book does not define.
	ErrUnknownAddon = errors.New("unknown add-on")

	// ErrAddonNotAllowed is returned for an add-on that the plan cannot take
	// (hipaa_baa on team, say).
	ErrAddonNotAllowed = errors.New("add-on not available on plan")

	// ErrUnknownTerm is returned for a term the book does not define.
	ErrUnknownTerm = errors.New("unknown term")

	// ErrUnknownSeatType is returned for a seat type the plan does not price.
	ErrUnknownSeatType = errors.New("unknown seat type")

	// ErrUnpricedCurrency is returned for a currency the book has no prices
	// in.
	ErrUnpricedCurrency = errors.New("currency not priced by the price book")

	// ErrNoMinimumPayout is returned for a payout currency the marketplace
	// terms set no minimum payout for. [Parse] refuses such a book.
	ErrNoMinimumPayout = errors.New("no minimum payout for the currency")

	// ErrUnknownVersion is returned by [Catalog.Version] for a price book
	// version Tally never ran with (or, for invoices older than the
	// catalog, never recorded).
	ErrUnknownVersion = errors.New("unknown price book version")

	// ErrVersionConflict is returned for a price book whose version was
	// already used with other content: a version names one set of
	// prices forever, since invoices record it.
	ErrVersionConflict = errors.New("price book version already used with other content")
)

// FieldError is a validation error of one field of a price book file.
type FieldError struct {
	Path    string // JSON path, "plans.team.base.USD"; "" for the whole file
	Message string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return "price book: " + e.Message
	}
	return "price book: " + e.Path + ": " + e.Message
}

// Unwrap returns [ErrInvalid].
func (e *FieldError) Unwrap() error { return ErrInvalid }
