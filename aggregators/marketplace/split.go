package marketplace

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Split is how the net of a sale is shared: Fee + Share = Net exactly, each
// a whole number of the currency's minor units.
type Split struct {
	Net   decimal.Decimal // gross − tax (after refunds: the remaining net)
	Fee   decimal.Decimal // platform fee: Round(Net × rate), half to even
	Share decimal.Decimal // provider share: Net − Fee
}

// SplitSale splits a sale (SPEC §3): net = gross − tax, fee =
// round(net × rate) half to even to c's minor unit, share = net − fee.
// Gross 59.00, tax 9.00, rate 0.15 → net 50.00, fee 7.50, share 42.50.
//
// gross and tax must be whole minor units with 0 ≤ tax ≤ gross, and rate
// in [0, 1); otherwise the error wraps [ErrInvalidSale] or [ErrInvalidTerms].
func SplitSale(rate decimal.Decimal, c money.Currency, gross, tax decimal.Decimal) (Split, error) {
	return SplitAfterRefunds(rate, c, gross, tax, decimal.Zero)
}

// SplitAfterRefunds splits what remains of a sale after cumulative refunds
// (gross, incl. tax) of refunded: remaining net = round((gross − refunded)
// × net ÷ gross) half to even, computed exactly (no division precision
// limit), then fee and share as in [SplitSale] on the remaining net. With
// refunded = gross everything is zero, so a full refund reverses the sale
// exactly; a free sale (gross 0) splits into zeros without dividing.
//
// refunded must be whole minor units in [0, gross], else the error wraps
// [ErrRefundExceedsSale] or [ErrInvalidRefund].
func SplitAfterRefunds(rate decimal.Decimal, c money.Currency, gross, tax, refunded decimal.Decimal) (Split, error) {
	if err := checkRate(rate); err != nil {
		return Split{}, err
	}
	if err := checkSaleAmounts(c, gross, tax); err != nil {
		return Split{}, fmt.Errorf("splitting sale: %w", err)
	}
	switch {
	case refunded.Sign() < 0 || !wholeMinor(c, refunded):
		return Split{}, fmt.Errorf("splitting sale: refunded %s %s must be ≥ 0 with at most %d fraction digits: %w",
			money.FormatDecimal(refunded), c.Code, c.MinorUnits, ErrInvalidRefund)
	case refunded.GreaterThan(gross):
		return Split{}, fmt.Errorf("splitting sale: refunded %s %s above gross %s: %w",
			money.FormatDecimal(refunded), c.Code, money.FormatDecimal(gross), ErrRefundExceedsSale)
	}
	return split(rate, c, gross, tax, refunded), nil
}

// split is SplitAfterRefunds on checked input.
func split(rate decimal.Decimal, c money.Currency, gross, tax, refunded decimal.Decimal) Split {
	net := gross.Sub(tax)
	var remaining decimal.Decimal
	switch {
	case refunded.IsZero():
		remaining = c.Round(net)
	case refunded.Equal(gross): // also the only case for gross 0
		remaining = c.Round(decimal.Zero)
	default:
		remaining = mulDivRound(c, gross.Sub(refunded), net, gross)
	}
	fee := c.Round(remaining.Mul(rate))
	return Split{Net: remaining, Fee: fee, Share: remaining.Sub(fee)}
}

// mulDivRound returns a × b ÷ q rounded half to even to c's minor unit,
// exactly, for a, b ≥ 0 and q > 0.
func mulDivRound(c money.Currency, a, b, q decimal.Decimal) decimal.Decimal {
	p := a.Mul(b)
	// p × 10^m ÷ q = P × 10^(ep + m − eq) ÷ Q
	num := new(big.Int).Set(p.Coefficient())
	den := new(big.Int).Set(q.Coefficient())
	e := int64(p.Exponent()) + int64(c.MinorUnits) - int64(q.Exponent())
	ten := big.NewInt(10)
	if e >= 0 {
		num.Mul(num, new(big.Int).Exp(ten, big.NewInt(e), nil))
	} else {
		den.Mul(den, new(big.Int).Exp(ten, big.NewInt(-e), nil))
	}
	quo, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	switch rem.Lsh(rem, 1).Cmp(den) {
	case 1:
		quo.Add(quo, big.NewInt(1))
	case 0:
		if quo.Bit(0) == 1 {
			quo.Add(quo, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(quo, -c.MinorUnits)
}

// wholeMinor reports whether d is a whole number of c's minor units.
func wholeMinor(c money.Currency, d decimal.Decimal) bool { return d.Equal(c.Round(d)) }

func checkRate(rate decimal.Decimal) error {
	if rate.Sign() < 0 || !rate.LessThan(decimal.NewFromInt(1)) {
		return fmt.Errorf("platform fee rate %s must be in [0, 1): %w", money.FormatDecimal(rate), ErrInvalidTerms)
	}
	return nil
}

func checkSaleAmounts(c money.Currency, gross, tax decimal.Decimal) error {
	switch {
	case gross.Sign() < 0 || tax.Sign() < 0:
		return fmt.Errorf("gross %s and tax %s must not be negative: %w", money.FormatDecimal(gross), money.FormatDecimal(tax), ErrInvalidSale)
	case tax.GreaterThan(gross):
		return fmt.Errorf("tax %s above gross %s: %w", money.FormatDecimal(tax), money.FormatDecimal(gross), ErrInvalidSale)
	case !wholeMinor(c, gross) || !wholeMinor(c, tax):
		return fmt.Errorf("gross %s and tax %s must have at most %d fraction digits in %s: %w",
			money.FormatDecimal(gross), money.FormatDecimal(tax), c.MinorUnits, c.Code, ErrInvalidSale)
	}
	return nil
}
