package money

import "errors"

var (
	// ErrUnknownCurrency is returned for a code that is not an active ISO
	// 4217 currency with defined minor units.
	ErrUnknownCurrency = errors.New("unknown currency")

	// ErrBadDecimal is returned for a literal that is not a plain decimal:
	// digits with an optional fraction, no sign, exponent or spaces.
	ErrBadDecimal = errors.New("bad decimal")

	// ErrTooManyDigits is returned when an amount carries more fraction
	// digits than its currency's minor unit allows.
	ErrTooManyDigits = errors.New("too many fraction digits")

	// ErrOverflow is returned when an amount does not fit in int64 minor
	// units.
	ErrOverflow = errors.New("amount overflows int64 minor units")
)
