package money_test

import (
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/money"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		coef string // expected coefficient; "" = expect an error
		exp  int32
	}{
		{in: "0", coef: "0", exp: 0},
		{in: "12", coef: "12", exp: 0},
		{in: "12.5", coef: "125", exp: -1},
		{in: "0.5", coef: "5", exp: -1},
		{in: "1.50", coef: "150", exp: -2},
		{in: "007", coef: "7", exp: 0},
		{in: "0.000000001", coef: "1", exp: -9},
		{in: "6250.5", coef: "62505", exp: -1},
		{in: "999999999999999999", coef: "999999999999999999", exp: 0},
		{in: "9999999999999999999", coef: "9999999999999999999", exp: 0},
		{in: "12345678901234567890.123456789012345678", coef: "12345678901234567890123456789012345678", exp: -18},
		{in: strings.Repeat("9", 38), coef: strings.Repeat("9", 38), exp: 0},
		{in: ""},
		{in: "."},
		{in: ".5"},
		{in: "5."},
		{in: "01."},
		{in: "-1"},
		{in: "+1"},
		{in: "1e3"},
		{in: "1E3"},
		{in: " 1"},
		{in: "1 "},
		{in: "1,5"},
		{in: "1..2"},
		{in: "1.2.3"},
		{in: "0x10"},
		{in: "NaN"},
		{in: "Infinity"},
		{in: "١"},  // Arabic-Indic digit one
		{in: "１"},  // fullwidth digit one
		{in: "−1"}, // Unicode minus sign
		{in: "1_000"},
		{in: strings.Repeat("9", 39)},
		{in: strings.Repeat("9", 20) + "." + strings.Repeat("9", 19)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := money.ParseDecimal(tt.in)
			if tt.coef == "" {
				if !errors.Is(err, money.ErrBadDecimal) {
					t.Fatalf("ParseDecimal(%q) = %v, %v; want ErrBadDecimal", tt.in, d, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDecimal(%q): %v", tt.in, err)
			}
			if d.Coefficient().String() != tt.coef || d.Exponent() != tt.exp {
				t.Fatalf("ParseDecimal(%q) = %s×10^%d; want %s×10^%d", tt.in, d.Coefficient(), d.Exponent(), tt.coef, tt.exp)
			}
		})
	}
}

func TestFractionDigits(t *testing.T) {
	tests := map[string]int{"0": 0, "12": 0, "1.5": 1, "1.50": 2, "0.000000001": 9, "10.001": 3}
	for in, want := range tests {
		if got := money.FractionDigits(in); got != want {
			t.Errorf("FractionDigits(%q) = %d; want %d", in, got, want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	usd := mustCurrency(t, "USD")
	jpy := mustCurrency(t, "JPY")
	bhd := mustCurrency(t, "BHD")
	clf := mustCurrency(t, "CLF")
	tests := []struct {
		in   string
		c    money.Currency
		want string
		err  error
	}{
		{in: "10", c: usd, want: "10"},
		{in: "10.3", c: usd, want: "10.3"},
		{in: "10.30", c: usd, want: "10.30"},
		{in: "10.001", c: usd, err: money.ErrTooManyDigits},
		{in: "10.100", c: usd, err: money.ErrTooManyDigits}, // the literal's digits count
		{in: "1010", c: jpy, want: "1010"},
		{in: "1010.0", c: jpy, err: money.ErrTooManyDigits},
		{in: "1.234", c: bhd, want: "1.234"},
		{in: "1.2345", c: bhd, err: money.ErrTooManyDigits},
		{in: "1.2345", c: clf, want: "1.2345"},
		{in: "-1", c: usd, err: money.ErrBadDecimal},
		{in: "1e3", c: usd, err: money.ErrBadDecimal},
	}
	for _, tt := range tests {
		t.Run(tt.c.Code+" "+tt.in, func(t *testing.T) {
			d, err := money.ParseAmount(tt.in, tt.c)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseAmount(%q, %s) = %v, %v; want %v", tt.in, tt.c, d, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAmount(%q, %s): %v", tt.in, tt.c, err)
			}
			if got := money.FormatDecimal(d); got != tt.want {
				t.Fatalf("ParseAmount(%q, %s) = %s; want %s", tt.in, tt.c, got, tt.want)
			}
		})
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		d    decimal.Decimal
		want string
	}{
		{decimal.New(0, 0), "0"},
		{decimal.New(0, -2), "0.00"},
		{decimal.New(150, -2), "1.50"},
		{decimal.New(-150, -2), "-1.50"},
		{decimal.New(5, -3), "0.005"},
		{decimal.New(-5, -3), "-0.005"},
		{decimal.New(152, 0), "152"},
		{decimal.New(15, 1), "150"},
		{decimal.New(0, 3), "0"},
		{decimal.NewFromBigInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(30), nil), -30), "1.000000000000000000000000000000"},
	}
	for _, tt := range tests {
		if got := money.FormatDecimal(tt.d); got != tt.want {
			t.Errorf("FormatDecimal(%s×10^%d) = %q; want %q", tt.d.Coefficient(), tt.d.Exponent(), got, tt.want)
		}
	}
}

// decimalRE is the contract's decimal syntax, used as an independent oracle.
var decimalRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func TestParseDecimalMatchesGrammar(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOfN(rapid.SampledFrom([]rune("0123456789.-+eE x")), 0, 45, -1).Draw(t, "s")
		d, err := money.ParseDecimal(s)
		digits := strings.Count(s, "") - 1 - strings.Count(s, ".")
		want := decimalRE.MatchString(s) && digits <= money.MaxDigits
		if (err == nil) != want {
			t.Fatalf("ParseDecimal(%q) error = %v; grammar says accept = %v", s, err, want)
		}
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat rejects %q", s)
		}
		if d.Rat().Cmp(r) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s; want %s", s, d.Rat(), r)
		}
		if d.Exponent() != -int32(money.FractionDigits(s)) {
			t.Fatalf("ParseDecimal(%q) exponent %d; want the literal's scale", s, d.Exponent())
		}
	})
}

func TestFormatDecimalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		intPart := rapid.StringMatching(`0|[1-9][0-9]{0,20}`).Draw(t, "int")
		frac := rapid.StringMatching(`[0-9]{0,15}`).Draw(t, "frac")
		s := intPart
		if frac != "" {
			s += "." + frac
		}
		d, err := money.ParseDecimal(s)
		if err != nil {
			t.Fatalf("ParseDecimal(%q): %v", s, err)
		}
		if got := money.FormatDecimal(d); got != s {
			t.Fatalf("FormatDecimal(ParseDecimal(%q)) = %q", s, got)
		}
	})
}

func mustCurrency(t testing.TB, code string) money.Currency {
	t.Helper()
	c, err := money.LookupCurrency(code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
