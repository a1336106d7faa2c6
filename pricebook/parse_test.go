package pricebook_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
)

// mutate applies edit to the default book decoded as generic JSON.
func mutate(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(pricebook.DefaultJSON(), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(m map[string]any)
		raw      string // used instead of edit when set
		wantPath string
		wantMsg  string
	}{
		{name: "add-on with its own plan list", edit: func(m map[string]any) {
			obj(m, "addons", "hipaa_baa")["plans"] = []any{"enterprise"}
		}, wantPath: "addons.hipaa_baa.plans", wantMsg: `leave "plans" out`},
		{name: "add-on that is no capability", edit: func(m map[string]any) {
			obj(m, "addons")["jetpack"] = obj(m, "addons", "white_label")
		}, wantPath: "addons.jetpack", wantMsg: "not a capability"},
		{name: "plan without its matrix row", edit: func(m map[string]any) {
			delete(obj(m, "plans", "business"), "entitlements")
		}, wantPath: "plans.business.entitlements", wantMsg: "is required"},
		{name: "capability missing from a row", edit: func(m map[string]any) {
			delete(obj(m, "plans", "team", "entitlements"), "sso_scim")
		}, wantPath: "plans.team.entitlements", wantMsg: `capability "sso_scim" is missing`},
		{name: "unknown capability", edit: func(m map[string]any) {
			obj(m, "plans", "team", "entitlements")["teleport"] = "included"
		}, wantPath: "plans.team.entitlements.teleport", wantMsg: `unknown capability "teleport"`},
		{name: "value outside SPEC §6", edit: func(m map[string]any) {
			obj(m, "plans", "healthcare", "entitlements")["ai_tutor"] = "sometimes"
		}, wantPath: "plans.healthcare.entitlements.ai_tutor", wantMsg: `capability "ai_tutor": unknown value "sometimes"`},
		{name: "addon cell without an add-on", edit: func(m map[string]any) {
			obj(m, "plans", "team", "entitlements")["sso_scim"] = "addon"
		}, wantPath: "plans.team.entitlements.sso_scim", wantMsg: `plan "team" sells capability "sso_scim" as an add-on`},
		{name: "pilot term without a flat fee", edit: func(m map[string]any) {
			delete(obj(m, "plans", "pilot"), "flat")
		}, wantPath: "plans.pilot", wantMsg: `has a "flat" fee and term "pilot" only`},
		{name: "flat fee on a monthly plan", edit: func(m map[string]any) {
			obj(m, "plans", "team")["flat"] = obj(m, "plans", "pilot", "flat")
		}, wantPath: "plans.team.flat", wantMsg: `for a plan sold on term "pilot" only`},
		{name: "unknown plan term", edit: func(m map[string]any) {
			obj(m, "plans", "team")["terms"] = []any{"weekly"}
		}, wantPath: "plans.team.terms[0]", wantMsg: `unknown term "weekly"`},
		{name: "negative price", edit: func(m map[string]any) {
			obj(m, "plans", "team", "seats", "learner", "price")["EUR"] = "-4.00"
		}, wantPath: "plans.team.seats.learner.price.EUR", wantMsg: "must not be negative"},
		{name: "fixed fee with sub-cent digits", edit: func(m map[string]any) {
			obj(m, "plans", "team", "base")["USD"] = "199.001"
		}, wantPath: "plans.team.base.USD", wantMsg: "at most 2 fraction digits"},
		{name: "JPY fixed fee with a fraction", edit: func(m map[string]any) {
			obj(m, "addons", "white_label", "price")["JPY"] = "50000.0"
		}, wantPath: "addons.white_label.price.JPY", wantMsg: "at most 0 fraction digits"},
		{name: "minimum payout with sub-cent digits", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["USD"] = "50.000"
		}, wantPath: "marketplace.minimum_payout.USD", wantMsg: "at most 2"},
		{name: "KWD minimum payout with four digits", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["KWD"] = "50.0001"
		}, wantPath: "marketplace.minimum_payout.KWD", wantMsg: "at most 3"},
		{name: "no default minimum payout", edit: func(m map[string]any) {
			delete(obj(m, "marketplace", "minimum_payout"), "default")
		}, wantPath: "marketplace.minimum_payout", wantMsg: `no minimum payout for AED, AFN, ALL, AMD, AOA, ARS, AUD, AWG, AZN, BAM and 151 more: ` +
			`a marketplace sale may be in any ISO 4217 currency, and a provider is never paid in a currency without a minimum; add a "default" entry`},
		{name: "default with a fraction KRW cannot pay", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["default"] = "50.5"
		}, wantPath: "marketplace.minimum_payout.default", wantMsg: `"50.5" cannot be paid in BIF, CLP, DJF, GNF, ISK, KMF, KRW,`},
		{name: "default with cents KWD could pay but KRW not", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["default"] = "50.00"
		}, wantPath: "marketplace.minimum_payout.default", wantMsg: "give the default in whole units"},
		{name: "zero default", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["default"] = "0"
		}, wantPath: "marketplace.minimum_payout.default", wantMsg: "greater than zero"},
		{name: "zero minimum for one currency", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["EUR"] = "0.00"
		}, wantPath: "marketplace.minimum_payout.EUR", wantMsg: "greater than zero"},
		{name: "minimum payout for no currency", edit: func(m map[string]any) {
			obj(m, "marketplace", "minimum_payout")["usd"] = "50.00"
		}, wantPath: "marketplace.minimum_payout.usd", wantMsg: `neither an ISO 4217 currency nor "default"`},
		{name: "missing currency price", edit: func(m map[string]any) {
			delete(obj(m, "plans", "business", "base"), "JPY")
		}, wantPath: "plans.business.base", wantMsg: "price in JPY is missing"},
		{name: "price in a currency the book does not list", edit: func(m map[string]any) {
			obj(m, "plans", "business", "base")["GBP"] = "400.00"
		}, wantPath: "plans.business.base.GBP", wantMsg: "not one of the book's currencies"},
		{name: "discount of 100 %", edit: func(m map[string]any) {
			obj(m, "terms", "annual")["discount"] = "1"
		}, wantPath: "terms.annual.discount", wantMsg: "[0, 1)"},
		{name: "discount above 1", edit: func(m map[string]any) {
			obj(m, "terms", "multi_year")["discount"] = "1.30"
		}, wantPath: "terms.multi_year.discount", wantMsg: "[0, 1)"},
		{name: "negative discount", edit: func(m map[string]any) {
			obj(m, "terms", "multi_year")["discount"] = "-0.1"
		}, wantPath: "terms.multi_year.discount", wantMsg: "negative"},
		{name: "missing term", edit: func(m map[string]any) {
			delete(obj(m, "terms"), "multi_year")
		}, wantPath: "terms", wantMsg: `term "multi_year" is missing`},
		{name: "unknown term", edit: func(m map[string]any) {
			obj(m, "terms")["weekly"] = map[string]any{"discount": "0"}
		}, wantPath: "terms.weekly", wantMsg: "unknown term"},
		{name: "unknown currency", edit: func(m map[string]any) {
			m["currencies"] = []any{"USD", "EUR", "JPY", "XYZ"}
		}, wantPath: "currencies[3]", wantMsg: "unknown currency"},
		{name: "duplicate currency", edit: func(m map[string]any) {
			m["currencies"] = []any{"USD", "EUR", "USD", "JPY"}
		}, wantPath: "currencies[2]", wantMsg: "twice"},
		{name: "missing version", edit: func(m map[string]any) { delete(m, "version") }, wantPath: "version", wantMsg: "required"},
		{name: "fractional included seats", edit: func(m map[string]any) {
			obj(m, "plans", "starter", "seats", "learner")["included"] = "10.5"
		}, wantPath: "plans.starter.seats.learner.included", wantMsg: "whole number"},
		{name: "unknown seat type in a limit", edit: func(m map[string]any) {
			obj(m, "plans", "business")["limits"] = []any{map[string]any{"seat_types": []any{"learner", "admin"}, "max": "250"}}
		}, wantPath: "plans.business.limits[0].seat_types[1]", wantMsg: `unknown seat type "admin"`},
		{name: "missing seat type", edit: func(m map[string]any) {
			delete(obj(m, "plans", "team", "seats"), "author")
		}, wantPath: "plans.team.seats", wantMsg: `"author" is missing`},
		{name: "overage not a decimal", edit: func(m map[string]any) {
			obj(m, "plans", "team", "ai", "overage_price")["USD"] = "1e-2"
		}, wantPath: "plans.team.ai.overage_price.USD", wantMsg: "decimal string"},
		{name: "bad plan key", edit: func(m map[string]any) {
			obj(m, "plans")["Gold Plan"] = obj(m, "plans", "team")
		}, wantPath: "plans.Gold Plan", wantMsg: "lowercase"},
		{name: "unknown payout schedule", edit: func(m map[string]any) {
			obj(m, "marketplace")["payout_schedule"] = "weekly"
		}, wantPath: "marketplace.payout_schedule", wantMsg: "monthly"},
		{name: "JSON number for a price", raw: `{"version":"x","currencies":["USD"],"plans":{"team":{"base":{"USD":199}}}}`, wantPath: "plans.base", wantMsg: "not a JSON number"} /* encoding/json leaves map keys out of the path */, {name: "JSON number for a count", raw: `{"version":"x","marketplace":{"refund_window_days":14}}`, wantPath: "marketplace.refund_window_days", wantMsg: "not a JSON number"},
		{name: "unknown field", raw: `{"version":"x","currency":["USD"]}`, wantMsg: `unknown field "currency"`},
		{name: "trailing data", raw: `{"version":"x"} {}`, wantMsg: "after the top-level object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.raw == "" {
				data = mutate(t, tt.edit)
			}
			_, err := pricebook.Parse(data)
			var fe *pricebook.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, pricebook.ErrInvalid) {
				t.Fatalf("Parse: %v; want a *FieldError wrapping ErrInvalid", err)
			}
			if tt.wantPath != "" && !strings.HasPrefix(fe.Path, tt.wantPath) {
				t.Errorf("path = %q; want %q (%v)", fe.Path, tt.wantPath, err)
			}
			if !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", fe.Message, tt.wantMsg)
			}
		})
	}
}

func TestParseAcceptsLongUnitPrices(t *testing.T) {
	data := mutate(t, func(m map[string]any) {
		obj(m, "plans", "team", "ai", "overage_price")["USD"] = "0.0185"
		obj(m, "plans", "team", "ai", "overage_price")["JPY"] = "1.85"
	})
	b, err := pricebook.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := money.FormatDecimal(b.Plans["team"].AIOverage["JPY"]); got != "1.85" {
		t.Fatalf("JPY overage %s", got)
	}
}
