package pricebook_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

func currency(t *testing.T, code string) money.Currency {
	t.Helper()
	c, err := money.LookupCurrency(code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDefaultMatchesSpec checks every number of SPEC §2 in the shipped
// book, in the three currencies (JPY = USD × 100, unit prices exact).
func TestDefaultMatchesSpec(t *testing.T) {
	b := pricebook.Default()
	if b.Version == "" {
		t.Fatal("empty version")
	}
	type seat struct {
		included int64
		price    string
	}
	tests := []struct {
		plan             string
		base             string
		learner, author  seat
		limits           string
		ai, overage      string
		jpyBase, jpyOver string
	}{
		{"starter", "49.00", seat{10, "5.00"}, seat{1, "15.00"}, "[learner]≤10 [author]≤1", "1000", "0.020", "4900", "2"},
		{"team", "199.00", seat{0, "4.00"}, seat{0, "15.00"}, "[learner]≤50 [author]≤5", "5000", "0.018", "19900", "1.8"},
		{"business", "499.00", seat{0, "6.00"}, seat{0, "20.00"}, "[learner author]≤250", "25000", "0.015", "49900", "1.5"},
		{"enterprise", "1999.00", seat{0, "8.00"}, seat{0, "25.00"}, "", "100000", "0.012", "199900", "1.2"},
		{"enterprise_plus", "4999.00", seat{0, "9.00"}, seat{0, "30.00"}, "", "250000", "0.010", "499900", "1"},
		{"healthcare", "5999.00", seat{0, "10.00"}, seat{0, "35.00"}, "", "250000", "0.010", "599900", "1"},
		{"marketplace_provider", "0.00", seat{0, "4.00"}, seat{0, "15.00"}, "", "1000", "0.020", "0", "2"},
		// pilot: no monthly base (its flat fee is checked below).
		{"pilot", "0.00", seat{500, "4.00"}, seat{0, "15.00"}, "[learner]≤500 [author]≤0", "5000", "0.018", "0", "1.8"},
	}
	if len(b.Plans) != len(tests) {
		t.Fatalf("book has %d plans; want %d", len(b.Plans), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			for _, code := range []string{"USD", "EUR"} {
				p, err := b.PlanIn(tt.plan, currency(t, code))
				if err != nil {
					t.Fatal(err)
				}
				got := []string{
					money.FormatDecimal(p.Base),
					money.FormatDecimal(p.Seats[schemas.SeatLearner].Price),
					money.FormatDecimal(p.Seats[schemas.SeatAuthor].Price),
					money.FormatDecimal(p.AIIncluded),
					money.FormatDecimal(p.AIOverage),
				}
				want := []string{tt.base, tt.learner.price, tt.author.price, tt.ai, tt.overage}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%s: got %v; want %v", code, got, want)
				}
				if p.Seats[schemas.SeatLearner].Included != tt.learner.included || p.Seats[schemas.SeatAuthor].Included != tt.author.included {
					t.Errorf("%s: included %v", code, p.Seats)
				}
				var limits []string
				for _, l := range p.Limits {
					limits = append(limits, toString(l.SeatTypes)+"≤"+itoa(l.Max))
				}
				if strings.Join(limits, " ") != tt.limits {
					t.Errorf("limits = %q; want %q", strings.Join(limits, " "), tt.limits)
				}
			}
			p, err := b.PlanIn(tt.plan, currency(t, "JPY"))
			if err != nil {
				t.Fatal(err)
			}
			if money.FormatDecimal(p.Base) != tt.jpyBase || money.FormatDecimal(p.AIOverage) != tt.jpyOver {
				t.Errorf("JPY base %s overage %s; want %s %s", money.FormatDecimal(p.Base), money.FormatDecimal(p.AIOverage), tt.jpyBase, tt.jpyOver)
			}
		})
	}

	// pilot: a flat 2,500.00 (EUR 2,500.00, JPY 250,000) for 3 months, term
	// pilot only.
	pilot := b.Plans["pilot"]
	if f := pilot.Flat; f == nil || f.Months != 3 || money.FormatDecimal(f.Price["USD"]) != "2500.00" ||
		money.FormatDecimal(f.Price["EUR"]) != "2500.00" || money.FormatDecimal(f.Price["JPY"]) != "250000" ||
		len(pilot.Terms) != 1 || pilot.Terms[0] != "pilot" {
		t.Errorf("pilot: flat %+v, terms %v", pilot.Flat, pilot.Terms)
	}
	for name, p := range b.Plans {
		if name != "pilot" && (p.Flat != nil || p.Terms != nil) {
			t.Errorf("%s: flat %+v, terms %v; want a monthly plan on every term", name, p.Flat, p.Terms)
		}
	}

	// Add-ons (SPEC §2): USD price where sold; 0 where included; refused
	// elsewhere ("" below).
	usd := currency(t, "USD")
	for _, tt := range []struct{ addon, plan, price string }{
		{"hipaa_baa", "enterprise", "1000.00"},
		{"hipaa_baa", "enterprise_plus", "1000.00"},
		{"hipaa_baa", "healthcare", "0.00"},
		{"white_label", "enterprise", "500.00"},
		{"white_label", "marketplace_provider", "500.00"},
		{"white_label", "enterprise_plus", "0.00"},
		{"white_label", "healthcare", "0.00"},
		{"data_residency", "business", "750.00"},
		{"data_residency", "enterprise", "750.00"},
		{"data_residency", "marketplace_provider", "750.00"},
		{"data_residency", "enterprise_plus", "0.00"},
		{"data_residency", "healthcare", "0.00"},
		{"hipaa_baa", "starter", ""}, {"hipaa_baa", "team", ""}, {"hipaa_baa", "business", ""},
		{"hipaa_baa", "marketplace_provider", ""}, {"hipaa_baa", "pilot", ""},
		{"white_label", "starter", ""}, {"white_label", "team", ""}, {"white_label", "business", ""}, {"white_label", "pilot", ""},
		{"data_residency", "starter", ""}, {"data_residency", "team", ""}, {"data_residency", "pilot", ""},
	} {
		got, err := b.AddonIn(tt.addon, tt.plan, usd)
		switch {
		case tt.price == "" && !errors.Is(err, pricebook.ErrAddonNotAllowed):
			t.Errorf("AddonIn(%s, %s) = %v, %v; want ErrAddonNotAllowed", tt.addon, tt.plan, got, err)
		case tt.price != "" && (err != nil || scaled(got) != tt.price):
			t.Errorf("AddonIn(%s, %s) = %v, %v; want %s", tt.addon, tt.plan, got, err, tt.price)
		}
	}
	for term, d := range map[schemas.Term]string{schemas.TermMonthly: "0", schemas.TermAnnual: "0.20", schemas.TermMultiYear: "0.30"} {
		got, err := b.Term(term)
		if err != nil || money.FormatDecimal(got.Discount) != d {
			t.Errorf("Term(%s) = %v, %v; want discount %s", term, got, err, d)
		}
	}
	m := b.Marketplace
	if money.FormatDecimal(m.PlatformFee) != "0.15" || m.RefundWindow != 14*24*time.Hour || m.PayoutSchedule != "monthly" {
		t.Errorf("marketplace = %+v", m)
	}
	// SPEC §2: 50 units of the payout currency, for every currency a sale
	// may be in (0, 2, 3 and 4 minor-unit digits).
	for code, want := range map[string]string{
		"USD": "50.00", "EUR": "50.00", "JPY": "50", "GBP": "50.00",
		"KRW": "50", "KWD": "50.000", "BHD": "50.000", "CLF": "50.0000",
	} {
		got, err := m.MinimumPayout.In(currency(t, code))
		if err != nil || scaled(got) != want {
			t.Errorf("minimum payout %s = %v, %v; want %s", code, got, err, want)
		}
	}
	if missing := m.MinimumPayout.Missing(money.Currencies()); len(missing) != 0 {
		t.Errorf("currencies without a minimum payout: %v", missing)
	}
}

func toString(sts []schemas.SeatType) string {
	var s []string
	for _, st := range sts {
		s = append(s, string(st))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLookups(t *testing.T) {
	b := pricebook.Default()
	if _, err := b.Plan("gold"); !errors.Is(err, pricebook.ErrUnknownPlan) {
		t.Errorf("Plan(gold): %v", err)
	}
	if _, err := b.Addon("espresso"); !errors.Is(err, pricebook.ErrUnknownAddon) {
		t.Errorf("Addon(espresso): %v", err)
	}
	if _, err := b.Term("weekly"); !errors.Is(err, pricebook.ErrUnknownTerm) {
		t.Errorf("Term(weekly): %v", err)
	}
	gbp := currency(t, "GBP")
	if _, err := b.PlanIn("team", gbp); !errors.Is(err, pricebook.ErrUnpricedCurrency) {
		t.Errorf("PlanIn(team, GBP): %v", err)
	}
	if _, err := b.AddonIn("white_label", "enterprise", gbp); !errors.Is(err, pricebook.ErrUnpricedCurrency) {
		t.Errorf("AddonIn(GBP): %v", err)
	}
	if _, err := b.Plans["team"].Base.In(gbp); !errors.Is(err, pricebook.ErrUnpricedCurrency) {
		t.Errorf("Prices.In(GBP): %v", err)
	}
	if _, err := b.Currency("GBP"); !errors.Is(err, pricebook.ErrUnpricedCurrency) {
		t.Errorf("Currency(GBP): %v", err)
	}
	// Default returns an independent copy each time.
	b.Plans["team"].Base["USD"] = b.Plans["team"].Base["USD"].Add(b.Plans["team"].Base["USD"])
	if got := pricebook.Default().Plans["team"].Base["USD"]; money.FormatDecimal(got) != "199.00" {
		t.Errorf("Default shares state: team base %s", got)
	}
}

// TestMinimumPayoutCoversEveryCurrency: explicit minimums win, the
// default covers the rest in each currency's own scale, and a book may do
// without a default only by listing every currency.
func TestMinimumPayoutCoversEveryCurrency(t *testing.T) {
	tests := []struct {
		name    string
		minimum map[string]any
		want    map[string]string // currency → minimum
	}{
		{
			name:    "default only",
			minimum: map[string]any{"default": "50"},
			want:    map[string]string{"USD": "50.00", "JPY": "50", "KRW": "50", "KWD": "50.000", "BHD": "50.000", "CLF": "50.0000"},
		},
		{
			name:    "explicit amounts win over the default",
			minimum: map[string]any{"default": "50", "KWD": "15.000", "JPY": "5000", "GBP": "40.00"},
			want:    map[string]string{"KWD": "15.000", "JPY": "5000", "GBP": "40.00", "BHD": "50.000", "USD": "50.00"},
		},
		{
			// Every currency with 0 minor-unit digits has its own entry, so
			// a default with one fraction digit is payable in the rest.
			name:    "fractional default where every whole-unit currency is listed",
			minimum: withZeroDigitCurrencies(map[string]any{"default": "20.5"}, "2000"),
			want:    map[string]string{"KRW": "2000", "JPY": "2000", "USD": "20.50", "KWD": "20.500", "CLF": "20.5000"},
		},
		{
			name:    "every currency listed, no default",
			minimum: everyCurrency("75"),
			want:    map[string]string{"USD": "75", "KRW": "75", "BHD": "75"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := pricebook.Parse(mutate(t, func(m map[string]any) { obj(m, "marketplace")["minimum_payout"] = tt.minimum }))
			if err != nil {
				t.Fatal(err)
			}
			for code, want := range tt.want {
				got, err := b.Marketplace.MinimumPayout.In(currency(t, code))
				if err != nil || scaled(got) != want {
					t.Errorf("%s: %v, %v; want %s", code, got, err, want)
				}
			}
			if missing := b.Marketplace.MinimumPayout.Missing(money.Currencies()); len(missing) != 0 {
				t.Errorf("no minimum for %v", missing)
			}
		})
	}
	// Terms built by hand (not parsed) may leave currencies out.
	partial := pricebook.Minimums{Amounts: pricebook.Prices{"USD": decimal.RequireFromString("50.00")}}
	if _, err := partial.In(currency(t, "KWD")); !errors.Is(err, pricebook.ErrNoMinimumPayout) {
		t.Errorf("KWD without a minimum: %v; want ErrNoMinimumPayout", err)
	}
	if got := partial.Missing([]money.Currency{currency(t, "USD"), currency(t, "KWD")}); len(got) != 1 || got[0].Code != "KWD" {
		t.Errorf("Missing = %v; want [KWD]", got)
	}
}

// scaled writes d with every digit of its scale ("50.000" stays so).
func scaled(d decimal.Decimal) string {
	if d.Exponent() < 0 {
		return d.StringFixed(-d.Exponent())
	}
	return d.String()
}

// withZeroDigitCurrencies adds amount for every currency with no minor unit.
func withZeroDigitCurrencies(m map[string]any, amount string) map[string]any {
	for _, c := range money.Currencies() {
		if c.MinorUnits == 0 {
			m[c.Code] = amount
		}
	}
	return m
}

// everyCurrency lists amount for every active currency.
func everyCurrency(amount string) map[string]any {
	m := map[string]any{}
	for _, c := range money.Currencies() {
		m[c.Code] = amount
	}
	return m
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "book.json")
	if err := os.WriteFile(good, pricebook.DefaultJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := pricebook.Load(good)
	if err != nil || b.Version != pricebook.Default().Version {
		t.Fatalf("Load = %v, %v", b, err)
	}
	if _, err := pricebook.Load(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, mutate(t, func(m map[string]any) { obj(m, "terms", "annual")["discount"] = "2" }), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pricebook.Load(bad); !errors.Is(err, pricebook.ErrInvalid) || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "terms.annual.discount") {
		t.Fatalf("Load(bad) = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(pricebook.DefaultJSON())
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := pricebook.Parse(data)
		if err == nil && (b.Version == "" || len(b.Currencies) == 0) {
			t.Fatalf("accepted a book without version or currencies")
		}
		if err != nil && !errors.Is(err, pricebook.ErrInvalid) {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
	})
}
