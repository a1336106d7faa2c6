package money_test

import (
	"errors"
	"testing"

	"github.com/tally-billing/tally/money"
)

func TestLookupCurrency(t *testing.T) {
	tests := []struct {
		code  string
		minor int32
		err   bool
	}{
		{code: "USD", minor: 2},
		{code: "EUR", minor: 2},
		{code: "GBP", minor: 2},
		{code: "JPY", minor: 0},
		{code: "KRW", minor: 0},
		{code: "CLP", minor: 0},
		{code: "ISK", minor: 0},
		{code: "VND", minor: 0},
		{code: "BHD", minor: 3},
		{code: "KWD", minor: 3},
		{code: "JOD", minor: 3},
		{code: "OMR", minor: 3},
		{code: "TND", minor: 3},
		{code: "IQD", minor: 3},
		{code: "LYD", minor: 3},
		{code: "CLF", minor: 4},
		{code: "UYW", minor: 4},
		{code: "XCG", minor: 2},
		{code: "ZWG", minor: 2},
		{code: "SLE", minor: 2},
		{code: "usd", err: true},
		{code: "Usd", err: true},
		{code: "US", err: true},
		{code: "USDX", err: true},
		{code: " USD", err: true},
		{code: "", err: true},
		{code: "XYZ", err: true},
		{code: "XXX", err: true}, // no currency
		{code: "XTS", err: true}, // testing code
		{code: "XAU", err: true}, // gold: no minor unit
		{code: "XDR", err: true}, // SDR: no minor unit
		{code: "HRK", err: true}, // replaced by EUR
		{code: "ZWL", err: true}, // replaced by ZWG
		{code: "ANG", err: true}, // replaced by XCG
		{code: "SLL", err: true}, // replaced by SLE
		{code: "ＵＳＤ", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, err := money.LookupCurrency(tt.code)
			if tt.err {
				if !errors.Is(err, money.ErrUnknownCurrency) {
					t.Fatalf("LookupCurrency(%q) = %v, %v; want ErrUnknownCurrency", tt.code, c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LookupCurrency(%q): %v", tt.code, err)
			}
			if c.Code != tt.code || c.MinorUnits != tt.minor {
				t.Fatalf("LookupCurrency(%q) = %+v; want minor units %d", tt.code, c, tt.minor)
			}
		})
	}
}

func TestCurrencies(t *testing.T) {
	all := money.Currencies()
	if len(all) < 150 || len(all) > 200 {
		t.Fatalf("Currencies() has %d entries; ISO 4217 List One has about 175", len(all))
	}
	byMinor := map[int32]int{}
	for i, c := range all {
		if i > 0 && all[i-1].Code >= c.Code {
			t.Fatalf("Currencies() not sorted at %q", c.Code)
		}
		got, err := money.LookupCurrency(c.Code)
		if err != nil || got != c {
			t.Fatalf("LookupCurrency(%q) = %+v, %v; want %+v", c.Code, got, err, c)
		}
		byMinor[c.MinorUnits]++
	}
	// 17 zero-digit, 7 three-digit and 2 four-digit codes; the rest have 2.
	if byMinor[0] != 17 || byMinor[3] != 7 || byMinor[4] != 2 {
		t.Fatalf("minor-unit groups = %v; want 17 with 0, 7 with 3, 2 with 4", byMinor)
	}
}
