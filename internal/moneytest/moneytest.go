// Package moneytest has the literal helpers the money tests share: they
// panic on a bad literal, which in a test is a typo to fix at once.
package moneytest

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// D parses a decimal literal with an optional leading '-'.
func D(s string) decimal.Decimal {
	neg := strings.HasPrefix(s, "-")
	v, err := money.ParseDecimal(strings.TrimPrefix(s, "-"))
	if err != nil {
		panic(err)
	}
	if neg {
		v = v.Neg()
	}
	return v
}

// Cur returns the currency with the ISO 4217 code.
func Cur(code string) money.Currency {
	c, err := money.LookupCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// TS parses "2026-11-10" (midnight UTC) or an RFC 3339 time.
func TS(s string) time.Time {
	if len(s) == 10 {
		s += "T00:00:00Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}
