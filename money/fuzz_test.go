package money_test

import (
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/tally-billing/tally/money"
)

// plainDecimalSyntax is the contract's decimal syntax, written independently of
// the hand-written scanner in decimal.go.
var plainDecimalSyntax = regexp.MustCompile(`^([0-9]+)(?:\.([0-9]+))?$`)

// FuzzParseDecimal checks ParseDecimal against an oracle: it accepts
// exactly the strings of plainDecimalSyntax with at most MaxDigits digits, its
// value is the one math/big reads from the same literal, its scale is the
// literal's fraction digits, and FormatDecimal gives the literal back once
// leading zeros are stripped. Every rejection wraps ErrBadDecimal.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{
		"0", "12", "0.5", "1.50", "007", "120.5", "6250.5", "0.000000001",
		"999999999999999999", "9999999999999999999",
		"12345678901234567890.123456789012345678", strings.Repeat("9", 39),
		"", ".", ".5", "5.", "-1", "+1", "1e3", " 1", "1,5", "1..2", "NaN", "１", "0x10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := money.ParseDecimal(s)
		m := plainDecimalSyntax.FindStringSubmatch(s)
		valid := m != nil && len(m[1])+len(m[2]) <= money.MaxDigits
		if err != nil {
			if valid {
				t.Fatalf("ParseDecimal(%q) rejected a plain decimal: %v", s, err)
			}
			if !errors.Is(err, money.ErrBadDecimal) || err.Error() == "" {
				t.Fatalf("ParseDecimal(%q): error %v does not wrap ErrBadDecimal", s, err)
			}
			return
		}
		if !valid {
			t.Fatalf("ParseDecimal(%q) = %s; want an error", s, d)
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("math/big cannot read %q", s)
		}
		if d.Rat().Cmp(want) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s; want %s", s, d.Rat().FloatString(len(m[2])), want.FloatString(len(m[2])))
		}
		if got := -int(d.Exponent()); got != len(m[2]) || money.FractionDigits(s) != len(m[2]) {
			t.Fatalf("ParseDecimal(%q): scale %d, FractionDigits %d; want %d", s, got, money.FractionDigits(s), len(m[2]))
		}
		intPart := strings.TrimLeft(m[1], "0")
		if intPart == "" {
			intPart = "0"
		}
		canonical := intPart
		if m[2] != "" {
			canonical += "." + m[2]
		}
		if got := money.FormatDecimal(d); got != canonical {
			t.Fatalf("FormatDecimal(ParseDecimal(%q)) = %q; want %q", s, got, canonical)
		}
	})
}

// FuzzParseAmount checks that an accepted amount has at most its
// currency's minor-unit digits, converts to integer minor units and back
// without change (or reports ErrOverflow), and is left as is by Round;
// a rejection wraps one of the package's errors.
func FuzzParseAmount(f *testing.F) {
	for _, seed := range []struct{ s, code string }{
		{"199.00", "USD"}, {"10.001", "USD"}, {"10.100", "USD"}, {"152", "JPY"}, {"5.0", "JPY"},
		{"12.345", "KWD"}, {"1.2345", "CLF"}, {"99999999999999999.99", "USD"}, {"92233720368547758.08", "USD"},
		{"0", "EUR"}, {"1", "usd"}, {"1", "XAU"}, {"", "USD"},
	} {
		f.Add(seed.s, seed.code)
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		c, err := money.LookupCurrency(code)
		if err != nil {
			if !errors.Is(err, money.ErrUnknownCurrency) {
				t.Fatalf("LookupCurrency(%q): %v does not wrap ErrUnknownCurrency", code, err)
			}
			return
		}
		if c.Code != code || c.MinorUnits < 0 || c.MinorUnits > 4 {
			t.Fatalf("LookupCurrency(%q) = %+v", code, c)
		}
		d, err := money.ParseAmount(s, c)
		if err != nil {
			if !errors.Is(err, money.ErrBadDecimal) && !errors.Is(err, money.ErrTooManyDigits) {
				t.Fatalf("ParseAmount(%q, %s): unexpected error %v", s, code, err)
			}
			if errors.Is(err, money.ErrTooManyDigits) && money.FractionDigits(s) <= int(c.MinorUnits) {
				t.Fatalf("ParseAmount(%q, %s): too many digits, but the literal has %d", s, code, money.FractionDigits(s))
			}
			return
		}
		if money.FractionDigits(s) > int(c.MinorUnits) || -d.Exponent() > c.MinorUnits {
			t.Fatalf("ParseAmount(%q, %s) accepted more than %d fraction digits", s, code, c.MinorUnits)
		}
		if !c.Round(d).Equal(d) {
			t.Fatalf("Round(%s) = %s changed an amount already in minor units", s, c.Round(d))
		}
		n, err := c.ToMinor(d)
		// Independent oracle: value × 10^minor as a big integer.
		scaled := new(big.Rat).Mul(d.Rat(), new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.MinorUnits)), nil)))
		if !scaled.IsInt() {
			t.Fatalf("%s %s is not a whole number of minor units", s, code)
		}
		if !scaled.Num().IsInt64() {
			if !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("ToMinor(%s %s) = %d, %v; want ErrOverflow", s, code, n, err)
			}
			return
		}
		if err != nil || n != scaled.Num().Int64() {
			t.Fatalf("ToMinor(%s %s) = %d, %v; want %s", s, code, n, err, scaled.Num())
		}
		if !c.FromMinor(n).Equal(d) {
			t.Fatalf("FromMinor(ToMinor(%s)) = %s", s, c.FromMinor(n))
		}
	})
}
