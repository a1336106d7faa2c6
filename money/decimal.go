package money

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxDigits is the most digits (integer and fraction together) that
// [ParseDecimal] accepts. It matches the precision of ClickHouse's
// Decimal(38, N), where amounts end up.
const MaxDigits = 38

// ParseDecimal parses the strict decimal syntax of Tally's public contract:
// one or more ASCII digits, optionally followed by a '.' and one or more
// digits ("12", "0.5", "1.50"). No sign, exponent, spaces, leading or
// trailing '.', and at most [MaxDigits] digits. Leading zeros are allowed
// ("007" is 7). The result keeps the literal's scale: "1.50" has exponent -2.
//
// Errors wrap [ErrBadDecimal].
func ParseDecimal(s string) (decimal.Decimal, error) {
	intDigits, fracDigits, ok := scanDecimal(s)
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("parsing decimal %s: want digits with an optional fraction, like 12 or 0.5: %w", quote(s), ErrBadDecimal)
	}
	if intDigits+fracDigits > MaxDigits {
		return decimal.Decimal{}, fmt.Errorf("parsing decimal %s: more than %d digits: %w", quote(s), MaxDigits, ErrBadDecimal)
	}
	if intDigits+fracDigits <= 18 {
		// Fits in an int64 coefficient: avoid the big.Int string parser.
		var coef int64
		for i := 0; i < len(s); i++ {
			if c := s[i]; c != '.' {
				coef = coef*10 + int64(c-'0')
			}
		}
		return decimal.New(coef, -int32(fracDigits)), nil
	}
	digits := s
	if fracDigits > 0 {
		digits = s[:intDigits] + s[intDigits+1:]
	}
	coef, ok := new(big.Int).SetString(digits, 10)
	if !ok { // unreachable: scanDecimal admitted only digits
		return decimal.Decimal{}, fmt.Errorf("parsing decimal %s: %w", quote(s), ErrBadDecimal)
	}
	return decimal.NewFromBigInt(coef, -int32(fracDigits)), nil
}

// scanDecimal checks s against ^[0-9]+(\.[0-9]+)?$ and counts the digits on
// each side of the point.
func scanDecimal(s string) (intDigits, fracDigits int, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intDigits = i
	if intDigits == 0 {
		return 0, 0, false
	}
	if i == len(s) {
		return intDigits, 0, true
	}
	if s[i] != '.' {
		return 0, 0, false
	}
	i++
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	fracDigits = i - start
	if fracDigits == 0 || i != len(s) {
		return 0, 0, false
	}
	return intDigits, fracDigits, true
}

// FractionDigits returns the number of digits after the '.' in the decimal
// literal s ("1.50" → 2, "7" → 0). It looks at the literal, not at the
// value, and does not validate s; use it after [ParseDecimal] succeeded.
func FractionDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// ParseAmount parses a money amount in currency c: [ParseDecimal] syntax
// with at most c.MinorUnits digits after the point ("10.001" USD and "5.0"
// JPY are rejected, with an error wrapping [ErrTooManyDigits]). The digits
// of the literal count, not its value: "10.100" USD is rejected too.
func ParseAmount(s string, c Currency) (decimal.Decimal, error) {
	d, err := ParseDecimal(s)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if FractionDigits(s) > int(c.MinorUnits) {
		return decimal.Decimal{}, fmt.Errorf("parsing %s amount %s: want at most %d fraction digits: %w", c.Code, quote(s), c.MinorUnits, ErrTooManyDigits)
	}
	return d, nil
}

// FormatDecimal writes d in plain notation with exactly as many fraction
// digits as its scale ("1.50" stays "1.50", 152 stays "152", negative values
// get a leading '-'). Unlike [decimal.Decimal.String] it does not depend on
// the decimal package's global settings, so it is safe for hashing and for
// the public contract. FormatDecimal(ParseDecimal(s)) == s for every s
// without leading zeros.
func FormatDecimal(d decimal.Decimal) string {
	exp := d.Exponent()
	coef := d.Coefficient()
	neg := coef.Sign() < 0
	digits := coef.Abs(coef).String()
	if exp > 0 {
		if digits != "0" {
			digits += strings.Repeat("0", int(exp))
		}
		exp = 0
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	frac := int(-exp)
	if frac == 0 {
		b.WriteString(digits)
		return b.String()
	}
	if len(digits) <= frac {
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", frac-len(digits)))
		b.WriteString(digits)
		return b.String()
	}
	b.WriteString(digits[:len(digits)-frac])
	b.WriteByte('.')
	b.WriteString(digits[len(digits)-frac:])
	return b.String()
}
