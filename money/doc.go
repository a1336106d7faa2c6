// Package money owns Tally's representation of money: ISO 4217 currencies
// and their minor units, the strict decimal syntax accepted from the outside,
// and the one rounding rule of the product (half-to-even to the currency's
// minor unit).
//
// Amounts and quantities are [decimal.Decimal] from the edge to the ledger.
// A float never touches money. Integer minor units exist only at the Stripe
// boundary ([Currency.ToMinor] and [Currency.FromMinor]).
package money
