package money

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// Round rounds d to the currency's minor unit, half to even (banker's
// rounding): 1.545 USD → 1.54, 1.555 USD → 1.56, 22.509 USD → 22.51,
// 151.5 JPY → 152, 150.5 JPY → 150. Negative values round symmetrically
// (-1.545 → -1.54). The result has exactly c.MinorUnits fraction digits of
// scale.
//
// This is the only rounding rule of Tally: each invoice line, fee and share
// is rounded once, with Round.
func (c Currency) Round(d decimal.Decimal) decimal.Decimal {
	return d.RoundBank(c.MinorUnits)
}

// ToMinor converts d to an integer number of minor units (10.30 USD → 1030,
// 152 JPY → 152). It never rounds: d must be a whole number of minor units
// (trailing zeros beyond the minor unit are fine, 1.500 USD → 150), else the
// error wraps [ErrTooManyDigits]; a result outside int64 wraps [ErrOverflow].
// Only the Stripe adapter needs integer minor units.
func (c Currency) ToMinor(d decimal.Decimal) (int64, error) {
	coef := d.Coefficient()
	if coef.Sign() == 0 {
		return 0, nil
	}
	shift := int64(d.Exponent()) + int64(c.MinorUnits)
	switch {
	case shift > 18:
		// |coef| ≥ 1, so the result is ≥ 10^19 in magnitude.
		return 0, fmt.Errorf("converting %s %s to minor units: %w", describe(d), c.Code, ErrOverflow)
	case shift >= 0:
		coef.Mul(coef, pow10(shift))
	case -shift > int64(coef.BitLen()):
		// 0 < |coef| < 2^BitLen < 10^-shift: a fraction of a minor unit
		// remains; deciding it without computing a huge power of ten.
		return 0, fmt.Errorf("converting %s %s to minor units: want at most %d fraction digits: %w", describe(d), c.Code, c.MinorUnits, ErrTooManyDigits)
	default:
		var rem big.Int
		coef.QuoRem(coef, pow10(-shift), &rem)
		if rem.Sign() != 0 {
			return 0, fmt.Errorf("converting %s %s to minor units: want at most %d fraction digits: %w", describe(d), c.Code, c.MinorUnits, ErrTooManyDigits)
		}
	}
	if !coef.IsInt64() {
		return 0, fmt.Errorf("converting %s %s to minor units: %w", describe(d), c.Code, ErrOverflow)
	}
	return coef.Int64(), nil
}

// FromMinor converts an integer number of minor units to an amount
// (1030 USD → 10.30).
func (c Currency) FromMinor(n int64) decimal.Decimal {
	return decimal.New(n, -c.MinorUnits)
}

// describe formats d for an error message without expanding an absurd
// exponent into megabytes of zeros.
func describe(d decimal.Decimal) string {
	if e := d.Exponent(); e < -64 || e > 64 {
		return fmt.Sprintf("%se%d", d.Coefficient(), e)
	}
	return FormatDecimal(d)
}

func pow10(n int64) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
}

// Format writes d with exactly the currency's minor-unit digits ("199.00"
// USD, "2251" JPY), rounding half-to-even if d has more.
func (c Currency) Format(d decimal.Decimal) string { return d.StringFixedBank(c.MinorUnits) }

// FormatCode is Format for a currency given by its ISO 4217 code; an
// unknown code keeps the amount's own digits.
func FormatCode(d decimal.Decimal, code string) string {
	c, err := LookupCurrency(code)
	if err != nil {
		return d.String()
	}
	return c.Format(d)
}
