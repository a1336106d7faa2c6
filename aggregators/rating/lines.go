package rating

import (
	"fmt"
	"math/big"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// ratDecimal shows an exact quantity: whole numbers as they are, others
// cut to quantityScale digits (half to even), without trailing zeros.
func ratDecimal(r *big.Rat) decimal.Decimal {
	if r.IsInt() {
		return decimal.NewFromBigInt(r.Num(), 0)
	}
	q := roundRat(r, quantityScale)
	coef, exp := q.Coefficient(), q.Exponent()
	ten, rem := big.NewInt(10), new(big.Int)
	for exp < 0 {
		quo, m := new(big.Int).QuoRem(coef, ten, rem)
		if m.Sign() != 0 {
			break
		}
		coef, exp = quo, exp+1
	}
	return decimal.NewFromBigInt(coef, exp)
}

// feeLine bills unitPrice × qty, rounded once.
func feeLine(kind LineKind, item, desc string, unitPrice decimal.Decimal, qty *big.Rat, c money.Currency, period string, f Facts) Line {
	return Line{
		Facts:       f,
		Kind:        kind,
		Item:        item,
		Description: desc,
		Quantity:    ratDecimal(qty),
		UnitPrice:   unitPrice,
		Amount:      roundRat(mulRat(unitPrice, qty), c.MinorUnits),
		Period:      period,
	}
}

// discountLine is −discount × the sum of the (rounded) recurring lines,
// rounded once; ok is false when there is nothing to discount.
func discountLine(item, desc string, recurring decimal.Decimal, discount decimal.Decimal, c money.Currency, period string, f Facts) (Line, bool) {
	if discount.IsZero() || recurring.IsZero() {
		return Line{}, false
	}
	return Line{
		Facts:       f,
		Kind:        LineDiscount,
		Item:        item,
		Description: desc,
		Quantity:    recurring,
		UnitPrice:   discount.Neg(),
		Amount:      c.Round(recurring.Mul(discount).Neg()),
		Period:      period,
	}, true
}

// subFacts are the facts of a recurring line of subscription s.
func subFacts(s *Sub) Facts {
	return Facts{Plan: s.Plan, Term: s.Term, Meter: MeterSubscription}
}

func percent(d decimal.Decimal) string {
	return money.FormatDecimal(d.Shift(2).Truncate(quantityScale)) + " %"
}

// seconds formats a duration in seconds without floats.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", int64(d/time.Second))
	}
	return money.FormatDecimal(decimal.New(int64(d), -9)) + " s"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// yearLabel names a contract year: "start/end" in RFC 3339, end exclusive.
func yearLabel(start, end time.Time) string { return stamp(start) + "/" + stamp(end) }
