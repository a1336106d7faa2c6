package money_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/money"
)

func dec(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	d, err := money.ParseDecimal(strings.TrimPrefix(s, "-"))
	if err != nil {
		t.Fatal(err)
	}
	if neg {
		d = d.Neg()
	}
	return d
}

func TestRound(t *testing.T) {
	tests := []struct {
		name string
		code string
		in   func(t testing.TB) decimal.Decimal
		want string
	}{
		// SPEC §3 worked examples.
		{"team AI overage 1250.5 x 0.018", "USD", func(t testing.TB) decimal.Decimal { return dec(t, "1250.5").Mul(dec(t, "0.018")) }, "22.51"},
		{"fee on net 10.30", "USD", func(t testing.TB) decimal.Decimal { return dec(t, "10.30").Mul(dec(t, "0.15")) }, "1.54"},
		{"fee on net 50.00", "USD", func(t testing.TB) decimal.Decimal { return dec(t, "50.00").Mul(dec(t, "0.15")) }, "7.50"},
		{"fee on remaining net 25.00", "USD", func(t testing.TB) decimal.Decimal { return dec(t, "25.00").Mul(dec(t, "0.15")) }, "3.75"},
		{"JPY fee on net 1010", "JPY", func(t testing.TB) decimal.Decimal { return dec(t, "1010").Mul(dec(t, "0.15")) }, "152"},
		{"annual discount 15588 x 0.20", "USD", func(t testing.TB) decimal.Decimal { return dec(t, "15588").Mul(dec(t, "0.20")) }, "3117.60"},
		// Ties go to the even neighbour, everything else to the nearest.
		{"22.509", "USD", lit("22.509"), "22.51"},
		{"1.545 tie down", "USD", lit("1.545"), "1.54"},
		{"1.555 tie up", "USD", lit("1.555"), "1.56"},
		{"1.5451 above tie", "USD", lit("1.5451"), "1.55"},
		{"1.5449 below tie", "USD", lit("1.5449"), "1.54"},
		{"0.005 tie to zero", "USD", lit("0.005"), "0.00"},
		{"0.015 tie up", "USD", lit("0.015"), "0.02"},
		{"-1.545", "USD", lit("-1.545"), "-1.54"},
		{"-1.555", "USD", lit("-1.555"), "-1.56"},
		{"-0.005 to zero", "USD", lit("-0.005"), "0.00"},
		{"JPY 151.5", "JPY", lit("151.5"), "152"},
		{"JPY 150.5", "JPY", lit("150.5"), "150"},
		{"JPY 0.5", "JPY", lit("0.5"), "0"},
		{"BHD 1.2345", "BHD", lit("1.2345"), "1.234"},
		{"BHD 1.2355", "BHD", lit("1.2355"), "1.236"},
		{"CLF 0.00005", "CLF", lit("0.00005"), "0.0000"},
		{"CLF 0.00015", "CLF", lit("0.00015"), "0.0002"},
		{"already rounded", "USD", lit("22.51"), "22.51"},
		{"integer gains scale", "USD", lit("199"), "199.00"},
		{"huge", "USD", lit("123456789012345678901234567890.125"), "123456789012345678901234567890.12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCurrency(t, tt.code)
			if got := money.FormatDecimal(c.Round(tt.in(t))); got != tt.want {
				t.Fatalf("%s Round = %s; want %s", tt.code, got, tt.want)
			}
		})
	}
}

func lit(s string) func(t testing.TB) decimal.Decimal {
	return func(t testing.TB) decimal.Decimal { return dec(t, s) }
}

// TestMarketplaceSplit checks fee + share = net for the SPEC's sales.
func TestMarketplaceSplit(t *testing.T) {
	tests := []struct {
		code, net, fee, share string
	}{
		{"USD", "50.00", "7.50", "42.50"},
		{"USD", "25.00", "3.75", "21.25"},
		{"USD", "10.30", "1.54", "8.76"},
		{"JPY", "1010", "152", "858"},
	}
	for _, tt := range tests {
		c := mustCurrency(t, tt.code)
		net := dec(t, tt.net)
		fee := c.Round(net.Mul(dec(t, "0.15")))
		share := net.Sub(fee)
		if money.FormatDecimal(fee) != tt.fee || !share.Equal(dec(t, tt.share)) {
			t.Errorf("%s net %s: fee %s share %s; want %s and %s", tt.code, tt.net, money.FormatDecimal(fee), money.FormatDecimal(share), tt.fee, tt.share)
		}
	}
}

func TestToMinor(t *testing.T) {
	tests := []struct {
		code string
		in   string
		want int64
		err  error
	}{
		{code: "USD", in: "10.30", want: 1030},
		{code: "USD", in: "10.3", want: 1030},
		{code: "USD", in: "10.300", want: 1030},
		{code: "USD", in: "0", want: 0},
		{code: "USD", in: "0.000", want: 0},
		{code: "USD", in: "-1.23", want: -123},
		{code: "USD", in: "1.545", err: money.ErrTooManyDigits},
		{code: "USD", in: "0.0000000000000000000000000000000001", err: money.ErrTooManyDigits},
		{code: "USD", in: "92233720368547758.07", want: math.MaxInt64},
		{code: "USD", in: "-92233720368547758.08", want: math.MinInt64},
		{code: "USD", in: "92233720368547758.08", err: money.ErrOverflow},
		{code: "USD", in: "100000000000000000000", err: money.ErrOverflow},
		{code: "JPY", in: "152", want: 152},
		{code: "JPY", in: "151.5", err: money.ErrTooManyDigits},
		{code: "BHD", in: "1.234", want: 1234},
		{code: "CLF", in: "1.2345", want: 12345},
	}
	for _, tt := range tests {
		t.Run(tt.code+" "+tt.in, func(t *testing.T) {
			c := mustCurrency(t, tt.code)
			got, err := c.ToMinor(dec(t, tt.in))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ToMinor(%s) = %d, %v; want %v", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ToMinor(%s) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	// A positive exponent far beyond int64 must not try to build the number.
	if _, err := mustCurrency(t, "USD").ToMinor(decimal.New(1, 1<<30)); !errors.Is(err, money.ErrOverflow) {
		t.Fatalf("ToMinor(1e2^30) = %v; want ErrOverflow", err)
	}
}

func TestFromMinor(t *testing.T) {
	tests := []struct {
		code string
		n    int64
		want string
	}{
		{"USD", 1030, "10.30"},
		{"USD", -5, "-0.05"},
		{"USD", 0, "0.00"},
		{"JPY", 152, "152"},
		{"BHD", 1234, "1.234"},
		{"CLF", 12345, "1.2345"},
	}
	for _, tt := range tests {
		if got := money.FormatDecimal(mustCurrency(t, tt.code).FromMinor(tt.n)); got != tt.want {
			t.Errorf("%s FromMinor(%d) = %s; want %s", tt.code, tt.n, got, tt.want)
		}
	}
}

// genCurrency draws from the currencies, with every minor-unit size likely.
func genCurrency() *rapid.Generator[money.Currency] {
	return rapid.Custom(func(t *rapid.T) money.Currency {
		code := rapid.SampledFrom([]string{"USD", "EUR", "JPY", "KRW", "BHD", "KWD", "CLF"}).Draw(t, "code")
		c, err := money.LookupCurrency(code)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// plainDecimal is a decimal drawn as text, so that the oracle below works on
// the same digits without going through the decimal package.
type plainDecimal struct {
	neg    bool
	digits string // coefficient digits, no sign
	scale  int    // number of fraction digits: value = digits × 10^-scale
}

func genPlainDecimal() *rapid.Generator[plainDecimal] {
	return rapid.Custom(func(t *rapid.T) plainDecimal {
		return plainDecimal{
			neg:    rapid.Bool().Draw(t, "neg"),
			digits: rapid.StringMatching(`[0-9]{1,30}`).Draw(t, "digits"),
			scale:  rapid.IntRange(0, 12).Draw(t, "scale"),
		}
	})
}

func (p plainDecimal) decimal() decimal.Decimal {
	coef, _ := new(big.Int).SetString(p.digits, 10)
	if p.neg {
		coef.Neg(coef)
	}
	return decimal.NewFromBigInt(coef, -int32(p.scale))
}

// oracleRoundHalfEven rounds the digits of p to m fraction digits with
// nothing but string arithmetic, and formats the result the way
// money.FormatDecimal does.
func oracleRoundHalfEven(p plainDecimal, m int) string {
	digits := p.digits
	for len(digits) <= p.scale {
		digits = "0" + digits
	}
	intPart, frac := digits[:len(digits)-p.scale], digits[len(digits)-p.scale:]
	for len(frac) < m {
		frac += "0"
	}
	kept, dropped := intPart+frac[:m], frac[m:]
	up := false
	if dropped != "" {
		switch {
		case dropped[0] > '5':
			up = true
		case dropped[0] == '5' && strings.Trim(dropped[1:], "0") != "":
			up = true
		case dropped[0] == '5':
			up = (kept[len(kept)-1]-'0')%2 == 1
		}
	}
	if up {
		kept = incrementDigits(kept)
	}
	intOut, fracOut := kept[:len(kept)-m], kept[len(kept)-m:]
	intOut = strings.TrimLeft(intOut, "0")
	if intOut == "" {
		intOut = "0"
	}
	out := intOut
	if m > 0 {
		out += "." + fracOut
	}
	if p.neg && strings.Trim(kept, "0") != "" {
		out = "-" + out
	}
	return out
}

func incrementDigits(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

func TestRoundMatchesOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCurrency().Draw(t, "currency")
		p := genPlainDecimal().Draw(t, "d")
		want := oracleRoundHalfEven(p, int(c.MinorUnits))
		if got := money.FormatDecimal(c.Round(p.decimal())); got != want {
			t.Fatalf("%s Round(%v) = %s; oracle says %s", c.Code, p, got, want)
		}
	})
}

func TestRoundProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCurrency().Draw(t, "currency")
		d := genPlainDecimal().Draw(t, "d").decimal()
		r := c.Round(d)
		if rr := c.Round(r); !rr.Equal(r) || rr.Exponent() != r.Exponent() {
			t.Fatalf("Round not idempotent: %s → %s → %s", d, r, rr)
		}
		if r.Exponent() != -c.MinorUnits {
			t.Fatalf("Round(%s) = %s has exponent %d; want %d", d, r, r.Exponent(), -c.MinorUnits)
		}
		half := decimal.New(5, -c.MinorUnits-1)
		if r.Sub(d).Abs().GreaterThan(half) {
			t.Fatalf("Round(%s) = %s is more than half a minor unit away", d, r)
		}
	})
}

func TestMinorRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCurrency().Draw(t, "currency")
		n := rapid.Int64().Draw(t, "n")
		back, err := c.ToMinor(c.FromMinor(n))
		if err != nil || back != n {
			t.Fatalf("%s ToMinor(FromMinor(%d)) = %d, %v", c.Code, n, back, err)
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		c := genCurrency().Draw(t, "currency")
		d := c.Round(genPlainDecimal().Draw(t, "d").decimal())
		n, err := c.ToMinor(d)
		if errors.Is(err, money.ErrOverflow) {
			// Only a count of minor units beyond int64 may overflow: a
			// 4-digit currency (CLF) already at 9.3 × 10^14.
			if d.Abs().Shift(c.MinorUnits).LessThanOrEqual(decimal.NewFromInt(math.MaxInt64)) {
				t.Fatalf("%s ToMinor(%s) overflowed", c.Code, d)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s ToMinor(%s): %v", c.Code, d, err)
		}
		if back := c.FromMinor(n); !back.Equal(d) {
			t.Fatalf("%s FromMinor(ToMinor(%s)) = %s", c.Code, d, back)
		}
	})
}
