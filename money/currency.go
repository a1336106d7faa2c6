package money

import (
	"fmt"
	"slices"
	"strings"
)

// Currency is an ISO 4217 currency and the number of digits of its minor
// unit (2 for USD and EUR, 0 for JPY and KRW, 3 for BHD and KWD, 4 for CLF).
type Currency struct {
	Code       string
	MinorUnits int32
}

// String returns the ISO 4217 code.
func (c Currency) String() string { return c.Code }

// Minor-unit digits of the active ISO 4217 codes (List One: currencies and
// funds). Codes whose minor unit is "N.A." (precious metals, bond-market
// units, XDR, XSU, XUA, XTS, XXX) are left out on purpose: nothing is billed
// in them. Codes withdrawn or being withdrawn in favour of another code
// (ANG→XCG, BGN→EUR, CUC, HRK→EUR, SLL→SLE, ZWL→ZWG) are left out too.
var minorUnitTable = []struct {
	digits int32
	codes  string
}{
	{0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"},
	{2, "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV " +
		"BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP " +
		"CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD " +
		"GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD " +
		"KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR " +
		"MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR " +
		"PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP " +
		"STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU " +
		"UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"},
	{3, "BHD IQD JOD KWD LYD OMR TND"},
	{4, "CLF UYW"},
}

// currencies maps an ISO 4217 code to its currency; built once at init and
// read-only afterwards.
var currencies = buildCurrencies()

func buildCurrencies() map[string]Currency {
	m := make(map[string]Currency, 200)
	for _, row := range minorUnitTable {
		for _, code := range strings.Fields(row.codes) {
			if _, dup := m[code]; dup || !isCodeSyntax(code) {
				panic("money: bad currency table entry " + code)
			}
			m[code] = Currency{Code: code, MinorUnits: row.digits}
		}
	}
	return m
}

// LookupCurrency returns the active ISO 4217 currency with the given code.
// The code must be exactly three uppercase ASCII letters ("usd" is not
// accepted); anything else, or a code that is not active, yields an error
// wrapping [ErrUnknownCurrency].
func LookupCurrency(code string) (Currency, error) {
	if c, ok := currencies[code]; ok {
		return c, nil
	}
	if !isCodeSyntax(code) {
		return Currency{}, fmt.Errorf("looking up currency %s: must be 3 uppercase letters: %w", quote(code), ErrUnknownCurrency)
	}
	return Currency{}, fmt.Errorf("looking up currency %s: %w", quote(code), ErrUnknownCurrency)
}

// Currencies returns every currency [LookupCurrency] accepts, sorted by code.
func Currencies() []Currency {
	out := make([]Currency, 0, len(currencies))
	for _, c := range currencies {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Currency) int { return strings.Compare(a.Code, b.Code) })
	return out
}

func isCodeSyntax(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}

// quote quotes s for an error message, cutting it short so that a hostile
// input cannot blow up logs.
func quote(s string) string {
	const max = 48
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
