package rating

import (
	"math/big"
	"time"

	"github.com/shopspring/decimal"
)

// roundRat rounds r to scale fraction digits, half to even: the rule of
// money.Currency.Round, for values that are not finite decimals (a price ×
// 10 days ÷ 30 days). Rounding the exact ratio once, instead of a decimal
// quotient cut at some precision, keeps each line rounded exactly once.
func roundRat(r *big.Rat, scale int32) decimal.Decimal {
	num := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	den := r.Denom() // > 0
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	// |rem| < den; compare 2|rem| with den.
	twice := new(big.Int).Abs(rem)
	twice.Lsh(twice, 1)
	if c := twice.Cmp(den); c > 0 || c == 0 && q.Bit(0) == 1 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(q, -scale)
}

// fraction is the exact ratio part ÷ whole of two durations (nanosecond
// resolution; with whole-second instants it is seconds ÷ seconds).
func fraction(part, whole time.Duration) *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(int64(part)), big.NewInt(int64(whole)))
}

// mulRat returns d × r exactly.
func mulRat(d decimal.Decimal, r *big.Rat) *big.Rat {
	return new(big.Rat).Mul(d.Rat(), r)
}

// quantityScale is the number of fraction digits kept in a prorated line's
// displayed quantity (ClickHouse stores Decimal(38, 9)); amounts are
// computed from the exact ratio, never from the displayed quantity.
const quantityScale = 9
