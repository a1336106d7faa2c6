package pricebook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// smallBook is a valid one-currency book, small enough for the fuzzer to
// mutate into every validation branch quickly.
var smallBook = `{"version":"v1","currencies":["KWD"],
"plans":{"p":{"base":{"KWD":"1.500"},
  "seats":{"learner":{"included":"2","price":{"KWD":"0.250"}},"author":{"included":"0","price":{"KWD":"3"}}},
  "limits":[{"seat_types":["learner","author"],"max":"5"}],
  "ai":{"included_credits":"10.5","overage_price":{"KWD":"0.0001"}},
  "entitlements":{` + smallRow + `}}},
"addons":{"white_label":{"price":{"KWD":"2.000"}},"hipaa_baa":{"price":{"KWD":"0"}}},
"terms":{"monthly":{"discount":"0"},"annual":{"discount":"0.20"},"multi_year":{"discount":"0.25"}},
"marketplace":{"platform_fee":"0.20","refund_window_days":"14","minimum_payout":{"KWD":"20.000","default":"25"},"payout_schedule":"monthly"}}`

// smallRow is smallBook's row of the matrix: white_label an add-on,
// hipaa_baa included, data_residency not available, a few levels.
const smallRow = `"white_label":"addon","hipaa_baa":"included","data_residency":"not_available",` +
	`"support_sla":"premium","ai_admin_insight":"v2","marketplace_seller":"opt_in",` +
	`"learner_player_offline":"included","ai_tutor":"included","authoring":"basic","ai_co_author":"included",` +
	`"live_collab_offline_authoring":"included","marketplace_buyer":"included","scorm_1_2_export":"included",` +
	`"scorm_2004_xapi_cmi5":"included","sso_scim":"included","assignments_compliance":"included",` +
	`"api_keys_webhooks":"webhooks_only","lti_1_3":"included","mobile_native":"included"`

// FuzzBookInvariants checks the price book loader beyond "does not
// panic": a rejection is a *FieldError wrapping ErrInvalid with a message;
// an accepted book is one valid UTF-8 JSON document and satisfies every
// rule of the file format (docs/billing.md), so rating can trust it: every
// price is given in exactly the book's currencies and is not negative,
// fixed fees have at most the currency's minor-unit digits, discounts and
// the platform fee are fractions in [0, 1), counts are whole numbers in
// range, every seat type and term is present, and every plan resolves in
// every currency.
func FuzzBookInvariants(f *testing.F) {
	f.Add(pricebook.DefaultJSON())
	f.Add([]byte(smallBook))
	for _, bad := range []struct{ from, to string }{
		{`"discount":"0.20"`, `"discount":"1"`},
		{`"KWD":"1.500"`, `"KWD":"1.5000"`},
		{`"KWD":"1.500"`, `"KWD":"-1.500"`},
		{`"KWD":"1.500"`, `"KWD":1.5`},
		{`"max":"5"`, `"max":"5.0"`},
		{`"refund_window_days":"14"`, `"refund_window_days":"3651"`},
		{`"payout_schedule":"monthly"`, `"payout_schedule":"weekly"`},
		{`"white_label":{"price"`, `"white_label":{"plans":["p"],"price"`},
		{`"white_label":{"price"`, `"jetpack":{"price"`},
		{`"white_label":"addon"`, `"white_label":"sometimes"`},
		{`"white_label":"addon"`, `"jetpack":"addon"`},
		{`"hipaa_baa":"included"`, `"hipaa_baa":"addon"`},
		{`,"hipaa_baa":{"price":{"KWD":"0"}}`, ``},
		{`"data_residency":"not_available",`, ``},
		{`"ai":{`, `"terms":["pilot"],"flat":{"price":{"KWD":"9.000"},"months":"3"},"ai":{`},
		{`"ai":{`, `"terms":["pilot","monthly"],"flat":{"price":{"KWD":"9.000"},"months":"3"},"ai":{`},
		{`"ai":{`, `"terms":["annual"],"ai":{`},
		{`"multi_year"`, `"quarterly"`},
		{`"currencies":["KWD"]`, `"currencies":["KWD","KWD"]`},
		{`"version":"v1"`, `"version":"v 1"`},
		{`"included_credits":"10.5"`, `"included_credits":"1.0000000001"`},
		{`,"default":"25"`, ``},
		{`"default":"25"`, `"default":"25.5"`},
		{`"default":"25"`, `"default":"0"`},
		{`"KWD":"20.000"`, `"KWD":"20.0001"`},
	} {
		f.Add([]byte(strings.Replace(smallBook, bad.from, bad.to, 1)))
	}
	f.Add([]byte(smallBook + ` {}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := pricebook.Parse(data)
		if err != nil {
			var fe *pricebook.FieldError
			if b != nil || !errors.As(err, &fe) || !errors.Is(err, pricebook.ErrInvalid) || fe.Message == "" {
				t.Fatalf("Parse = %v, %v; want a nil book and a *FieldError with a message", b, err)
			}
			return
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("accepted input that is not one valid UTF-8 JSON document: %q", data)
		}
		checkBook(t, b)
		again, err := pricebook.Parse(b.Source())
		if err != nil || !bytes.Equal(again.Source(), b.Source()) {
			t.Fatalf("the canonical source does not parse back to itself: %v", err)
		}
	})
}

func checkBook(t *testing.T, b *pricebook.Book) {
	t.Helper()
	if b.Version == "" || len(b.Version) > 64 || strings.ContainsAny(b.Version, " \t\n") {
		t.Fatalf("version %q", b.Version)
	}
	if len(b.Currencies) == 0 {
		t.Fatal("no currencies")
	}
	codes := []string{}
	for _, c := range b.Currencies {
		if known, err := money.LookupCurrency(c.Code); err != nil || known != c || slices.Contains(codes, c.Code) {
			t.Fatalf("currency %+v is unknown or repeated", c)
		}
		codes = append(codes, c.Code)
	}
	prices := func(what string, p pricebook.Prices, fixed bool) {
		if len(p) != len(codes) {
			t.Fatalf("%s: prices in %d currencies, book has %d", what, len(p), len(codes))
		}
		for _, c := range b.Currencies {
			d, err := p.In(c)
			if err != nil || d.IsNegative() {
				t.Fatalf("%s %s = %s, %v", what, c.Code, d, err)
			}
			if fixed && -d.Exponent() > c.MinorUnits {
				t.Fatalf("%s %s = %s has more than %d fraction digits", what, c.Code, d, c.MinorUnits)
			}
		}
	}
	fraction := func(what string, d decimal.Decimal) {
		if d.IsNegative() || d.GreaterThanOrEqual(decimal.NewFromInt(1)) {
			t.Fatalf("%s = %s, not in [0, 1)", what, d)
		}
	}
	count := func(what string, n int64) {
		if n < 0 || n > 1_000_000_000 {
			t.Fatalf("%s = %d out of range", what, n)
		}
	}
	key := func(what, k string) {
		if k == "" || len(k) > 64 || k[0] < 'a' || k[0] > 'z' || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Fatalf("%s key %q", what, k)
		}
	}

	if len(b.Plans) == 0 {
		t.Fatal("no plans")
	}
	for name, p := range b.Plans {
		if p.Flat != nil {
			prices("plans."+name+".flat.price", p.Flat.Price, true)
			if p.Flat.Months < 1 || !slices.Equal(p.Terms, []schemas.Term{pricebook.TermPilot}) {
				t.Fatalf("plan %s: flat fee for %d months on terms %v", name, p.Flat.Months, p.Terms)
			}
		} else if slices.Contains(p.Terms, pricebook.TermPilot) {
			t.Fatalf("plan %s: term pilot without a flat fee", name)
		}
	}
	for name, p := range b.Plans {
		key("plan", name)
		prices("plans."+name+".base", p.Base, true)
		prices("plans."+name+".ai.overage_price", p.AIOverage, false)
		if p.AIIncluded.IsNegative() || -p.AIIncluded.Exponent() > 9 {
			t.Fatalf("plan %s: included credits %s", name, p.AIIncluded)
		}
		if len(p.Seats) != len(schemas.SeatTypes()) {
			t.Fatalf("plan %s prices %d seat types", name, len(p.Seats))
		}
		for _, st := range schemas.SeatTypes() {
			s, ok := p.Seats[st]
			if !ok {
				t.Fatalf("plan %s: seat type %s missing", name, st)
			}
			count("included seats", s.Included)
			prices("plans."+name+".seats."+string(st), s.Price, true)
		}
		for _, l := range p.Limits {
			count("limit", l.Max)
			if len(l.SeatTypes) == 0 {
				t.Fatalf("plan %s: a limit without seat types", name)
			}
			for i, st := range l.SeatTypes {
				if !slices.Contains(schemas.SeatTypes(), st) || slices.Contains(l.SeatTypes[:i], st) {
					t.Fatalf("plan %s: limit seat types %v", name, l.SeatTypes)
				}
			}
		}
		for _, c := range b.Currencies {
			pp, err := b.PlanIn(name, c)
			if err != nil || pp.Currency != c || !pp.Base.Equal(p.Base[c.Code]) {
				t.Fatalf("PlanIn(%s, %s) = %+v, %v", name, c.Code, pp, err)
			}
		}
	}
	checkMatrix(t, b)
	if len(b.Terms) != len(schemas.Terms()) {
		t.Fatalf("%d terms", len(b.Terms))
	}
	for _, term := range schemas.Terms() {
		tt, err := b.Term(term)
		if err != nil || tt.Key != term {
			t.Fatalf("Term(%s) = %+v, %v", term, tt, err)
		}
		fraction("terms."+string(term)+".discount", tt.Discount)
	}
	m := b.Marketplace
	fraction("marketplace.platform_fee", m.PlatformFee)
	if m.RefundWindow < 0 || m.RefundWindow > 3650*24*time.Hour || m.RefundWindow%(24*time.Hour) != 0 {
		t.Fatalf("refund window %v", m.RefundWindow)
	}
	// Every currency a sale may be in has a minimum payout > 0 that is a
	// whole number of its minor units.
	for _, c := range money.Currencies() {
		min, err := m.MinimumPayout.In(c)
		if err != nil || min.Sign() <= 0 || -min.Exponent() > c.MinorUnits || !c.Round(min).Equal(min) {
			t.Fatalf("minimum payout %s = %s, %v", c.Code, min, err)
		}
	}
	if m.PayoutSchedule != "monthly" {
		t.Fatalf("payout schedule %q", m.PayoutSchedule)
	}
}

// checkMatrix: a parsed book has the whole matrix, in the values of SPEC
// §6; each add-on is a capability, sold at its price where the matrix
// says addon, free where the plan includes it, refused elsewhere; every
// addon cell can be bought.
func checkMatrix(t *testing.T, b *pricebook.Book) {
	t.Helper()
	if !b.HasMatrix() {
		t.Fatal("a parsed book without the matrix")
	}
	c := b.Currencies[0]
	for name, p := range b.Plans {
		if len(p.Entitlements) != len(pricebook.Capabilities()) {
			t.Fatalf("plan %s: %d capabilities", name, len(p.Entitlements))
		}
		for _, cap := range pricebook.Capabilities() {
			v, ok := b.Entitlement(name, cap)
			if !ok || !v.Valid() {
				t.Fatalf("plan %s: %s = %q, %v", name, cap, v, ok)
			}
			if _, priced := b.Addons[string(cap)]; v.IsAddon() && !priced {
				t.Fatalf("plan %s sells %s as an add-on the book does not price", name, cap)
			}
		}
	}
	for name, a := range b.Addons {
		if _, ok := pricebook.ParseCapability(name); !ok || a.Plans != nil {
			t.Fatalf("add-on %s: not a capability, or a plan list %v", name, a.Plans)
		}
		prices := a.Price
		for plan := range b.Plans {
			v, _ := b.Entitlement(plan, pricebook.Capability(name))
			got, err := b.AddonIn(name, plan, c)
			switch {
			case v.IsAddon():
				if err != nil || !got.Equal(prices[c.Code]) {
					t.Fatalf("AddonIn(%s, %s) = %s, %v; want the price", name, plan, got, err)
				}
			case v == pricebook.ValueIncluded || v.IsLevel():
				if err != nil || !got.IsZero() {
					t.Fatalf("AddonIn(%s, %s) = %s, %v; want 0 (included)", name, plan, got, err)
				}
			default:
				if !errors.Is(err, pricebook.ErrAddonNotAllowed) {
					t.Fatalf("AddonIn(%s, %s) = %s, %v; want ErrAddonNotAllowed (%s)", name, plan, got, err, v)
				}
			}
		}
	}
}
