package pricebook_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tally-billing/tally/pricebook"
)

// specMatrix is the table of SPEC §6, typed from the SPEC (not read from
// pricebook.json): one row per capability, the columns in the order of
// matrixPlans. pilot's column is SPEC §6's sentence: learner_player_offline
// and ai_tutor included, everything else not_available.
var matrixPlans = []string{"starter", "team", "business", "enterprise", "enterprise_plus", "healthcare", "marketplace_provider", "pilot"}

var specMatrix = []struct {
	capability pricebook.Capability
	values     [8]pricebook.EntitlementValue
}{
	{"learner_player_offline", [8]pricebook.EntitlementValue{"included", "included", "included", "included", "included", "included", "included", "included"}},
	{"ai_tutor", [8]pricebook.EntitlementValue{"included", "included", "included", "included", "included", "restricted", "included", "included"}},
	{"authoring", [8]pricebook.EntitlementValue{"basic", "included", "included", "included", "included", "included", "included", "not_available"}},
	{"ai_co_author", [8]pricebook.EntitlementValue{"basic", "included", "included", "included", "included", "restricted", "included", "not_available"}},
	{"live_collab_offline_authoring", [8]pricebook.EntitlementValue{"not_available", "included", "included", "included", "included", "included", "included", "not_available"}},
	{"marketplace_buyer", [8]pricebook.EntitlementValue{"included", "included", "included", "included", "included", "limited", "included", "not_available"}},
	{"marketplace_seller", [8]pricebook.EntitlementValue{"not_available", "opt_in", "opt_in", "opt_in", "opt_in", "not_available", "included", "not_available"}},
	{"scorm_1_2_export", [8]pricebook.EntitlementValue{"not_available", "included", "included", "included", "included", "included", "included", "not_available"}},
	{"scorm_2004_xapi_cmi5", [8]pricebook.EntitlementValue{"not_available", "not_available", "included", "included", "included", "included", "included", "not_available"}},
	{"sso_scim", [8]pricebook.EntitlementValue{"not_available", "not_available", "included", "included", "included", "included", "not_available", "not_available"}},
	{"assignments_compliance", [8]pricebook.EntitlementValue{"basic", "basic", "included", "included", "included", "included", "not_available", "not_available"}},
	{"ai_admin_insight", [8]pricebook.EntitlementValue{"not_available", "basic", "v1", "v1", "v2", "v2", "not_available", "not_available"}},
	{"api_keys_webhooks", [8]pricebook.EntitlementValue{"not_available", "webhooks_only", "included", "included", "included", "included", "included", "not_available"}},
	{"lti_1_3", [8]pricebook.EntitlementValue{"not_available", "not_available", "included", "included", "included", "included", "included", "not_available"}},
	{"data_residency", [8]pricebook.EntitlementValue{"not_available", "not_available", "addon", "addon", "multi_region", "multi_region", "addon", "not_available"}},
	{"hipaa_baa", [8]pricebook.EntitlementValue{"not_available", "not_available", "not_available", "addon", "addon", "included", "not_available", "not_available"}},
	{"white_label", [8]pricebook.EntitlementValue{"not_available", "not_available", "not_available", "addon", "included", "included", "addon", "not_available"}},
	{"mobile_native", [8]pricebook.EntitlementValue{"basic", "basic", "included", "included", "included", "included", "included", "not_available"}},
	{"support_sla", [8]pricebook.EntitlementValue{"community", "1_business_day", "4_hours", "premium", "premium_plus", "premium_plus", "premium", "not_available"}},
}

// TestShippedMatrixIsSpec6 checks all 8 × 19 cells of the shipped book
// against SPEC §6, and that the book has no other plan or capability.
func TestShippedMatrixIsSpec6(t *testing.T) {
	b := pricebook.Default()
	if !b.HasMatrix() {
		t.Fatal("the shipped book has no matrix")
	}
	var plans []string
	for p := range b.Plans {
		plans = append(plans, p)
	}
	if slices.Sort(plans); !slices.Equal(plans, slices.Sorted(slices.Values(matrixPlans))) {
		t.Fatalf("plans %v; want %v", plans, matrixPlans)
	}
	if len(specMatrix) != 19 || len(pricebook.Capabilities()) != 19 {
		t.Fatalf("%d rows typed, %d capabilities; SPEC §6 has 19", len(specMatrix), len(pricebook.Capabilities()))
	}
	for _, row := range specMatrix {
		for i, plan := range matrixPlans {
			t.Run(plan+"/"+string(row.capability), func(t *testing.T) {
				got, ok := b.Entitlement(plan, row.capability)
				if !ok || got != row.values[i] {
					t.Errorf("Entitlement(%s, %s) = %q, %v; want %q", plan, row.capability, got, ok, row.values[i])
				}
			})
		}
	}
	for _, plan := range matrixPlans {
		m, ok := b.Matrix(plan)
		if !ok || len(m) != 19 {
			t.Errorf("Matrix(%s): %d capabilities, %v", plan, len(m), ok)
		}
	}
}

func TestCapabilities(t *testing.T) {
	cs := pricebook.Capabilities()
	if !slices.IsSorted(cs) || len(cs) != 19 {
		t.Fatalf("Capabilities() = %v; want 19, sorted", cs)
	}
	cs[0] = "mutated"
	if pricebook.Capabilities()[0] != "ai_admin_insight" {
		t.Fatal("Capabilities shares its slice")
	}
	for _, row := range specMatrix {
		if c, ok := pricebook.ParseCapability(string(row.capability)); !ok || c != row.capability {
			t.Errorf("ParseCapability(%s) = %q, %v", row.capability, c, ok)
		}
	}
	for _, s := range []string{"", "seats.learner", "SSO_SCIM", "sso", "ai_credits"} {
		if _, ok := pricebook.ParseCapability(s); ok {
			t.Errorf("ParseCapability(%q) accepted", s)
		}
	}
	if _, ok := pricebook.Default().Entitlement("platinum", "sso_scim"); ok {
		t.Error("Entitlement of an unknown plan")
	}
	if _, ok := pricebook.Default().Entitlement("team", "teleport"); ok {
		t.Error("Entitlement of an unknown capability")
	}
}

func TestEntitlementValueHelpers(t *testing.T) {
	tests := []struct {
		v                                                   pricebook.EntitlementValue
		valid, level, addon, optIn, available, includedPlan bool
	}{
		{"included", true, false, false, false, true, true},
		{"addon", true, false, true, false, true, false},
		{"opt_in", true, false, false, true, true, false},
		{"not_available", true, false, false, false, false, false},
		{"multi_region", true, true, false, false, true, true},
		{"basic", true, true, false, false, true, true},
		{"premium_plus", true, true, false, false, true, true},
		{"1_business_day", true, true, false, false, true, true},
		{"webhooks_only", true, true, false, false, true, true},
		{"commit", true, true, false, false, true, true},
		{"sometimes", false, false, false, false, false, false},
		{"", false, false, false, false, false, false},
	}
	for _, tt := range tests {
		v := tt.v
		got := []bool{v.Valid(), v.IsLevel(), v.IsAddon(), v.IsOptIn(), v.Available(), v.IncludedInPlan()}
		want := []bool{tt.valid, tt.level, tt.addon, tt.optIn, tt.available, tt.includedPlan}
		if !slices.Equal(got, want) {
			t.Errorf("%q: Valid, IsLevel, IsAddon, IsOptIn, Available, IncludedInPlan = %v; want %v", v, got, want)
		}
	}
}

func TestAddonOn(t *testing.T) {
	b := pricebook.Default()
	for _, tt := range []struct {
		addon, plan string
		want        pricebook.AddonStatus
	}{
		{"hipaa_baa", "enterprise", pricebook.AddonPriced},
		{"hipaa_baa", "healthcare", pricebook.AddonIncluded},
		{"data_residency", "enterprise_plus", pricebook.AddonIncluded},
		{"white_label", "marketplace_provider", pricebook.AddonPriced},
		{"white_label", "team", 0},
	} {
		got, err := b.AddonOn(tt.addon, tt.plan)
		if got != tt.want || (tt.want == 0) != errors.Is(err, pricebook.ErrAddonNotAllowed) {
			t.Errorf("AddonOn(%s, %s) = %v, %v; want %v", tt.addon, tt.plan, got, err, tt.want)
		}
	}
	if _, err := b.AddonOn("jetpack", "team"); !errors.Is(err, pricebook.ErrUnknownAddon) {
		t.Errorf("unknown add-on: %v", err)
	}
	if _, err := b.AddonOn("white_label", "platinum"); !errors.Is(err, pricebook.ErrUnknownPlan) {
		t.Errorf("unknown plan: %v", err)
	}
}

func TestSeatLimitsOfNewPlans(t *testing.T) {
	b := pricebook.Default()
	pilot := b.Plans["pilot"]
	if l, ok := pilot.LimitOf("learner"); !ok || l.Max != 500 {
		t.Errorf("pilot learners: %+v, %v; want 500", l, ok)
	}
	if l, ok := pilot.LimitOf("author"); !ok || l.Max != 0 {
		t.Errorf("pilot authors: %+v, %v; want 0", l, ok)
	}
	if l, ok := b.Plans["business"].LimitOf("author"); !ok || l.Max != 250 || len(l.SeatTypes) != 2 {
		t.Errorf("business authors: %+v, %v; want 250 shared with learners", l, ok)
	}
	if _, ok := b.Plans["marketplace_provider"].LimitOf("learner"); ok {
		t.Error("marketplace_provider has a learner limit; SPEC §2: none")
	}
}

// A version archived before the matrix (the book shipped until
// 2026-11-01.1, kept in testdata) is still read back by Keep, with its
// own add-on rules, so that the months billed under it can be re-rated;
// Parse refuses it as a current book, naming the plan without a row.
func TestKeepReadsABookFromBeforeTheMatrix(t *testing.T) {
	old, err := os.ReadFile("testdata/pricebook-2026-11-01.1.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = pricebook.Parse(old)
	var fe *pricebook.FieldError
	if !errors.As(err, &fe) || fe.Path != "plans.business.entitlements" || !strings.Contains(fe.Message, "is required") {
		t.Fatalf("Parse(old book) = %v; want plans.business.entitlements is required", err)
	}
	a := &memArchive{records: []pricebook.Record{{Version: "2026-11-01.1", Source: old, At: october}}}
	c, err := pricebook.Keep(context.Background(), a, pricebook.Default(), january)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Version("2026-11-01.1")
	if err != nil {
		t.Fatal(err)
	}
	if b.HasMatrix() {
		t.Error("the old book has a matrix")
	}
	if _, ok := b.Entitlement("team", pricebook.CapSSOSCIM); ok {
		t.Error("the old book answers an entitlement")
	}
	usd := currency(t, "USD")
	// Its rules: white_label and data_residency on every plan, hipaa_baa
	// on enterprise and enterprise_plus.
	for _, tt := range []struct{ addon, plan, price string }{
		{"white_label", "starter", "500.00"},
		{"data_residency", "healthcare", "750.00"},
		{"hipaa_baa", "enterprise_plus", "1000.00"},
		{"hipaa_baa", "healthcare", ""},
	} {
		got, err := b.AddonIn(tt.addon, tt.plan, usd)
		if tt.price == "" && !errors.Is(err, pricebook.ErrAddonNotAllowed) || tt.price != "" && (err != nil || scaled(got) != tt.price) {
			t.Errorf("old AddonIn(%s, %s) = %v, %v; want %q", tt.addon, tt.plan, got, err, tt.price)
		}
	}
}
