package entitlements

import (
	"slices"
	"strings"
	"testing"

	"github.com/tally-billing/tally/pricebook"
)

// specTable is the entitlement matrix of SPEC §6 copied by hand, the
// oracle the price book's matrix (through [BookMatrix]) is checked
// against. Columns: starter, team, business, enterprise,
// enterprise_plus, healthcare, marketplace_provider; pilot has
// learner_player_offline and ai_tutor included and nothing else.

var specPlans = []string{"starter", "team", "business", "enterprise", "enterprise_plus", "healthcare", "marketplace_provider"}

const specTable = `
learner_player_offline        included      included       included      included  included      included      included
ai_tutor                      included      included       included      included  included      restricted    included
authoring                     basic         included       included      included  included      included      included
ai_co_author                  basic         included       included      included  included      restricted    included
live_collab_offline_authoring not_available included       included      included  included      included      included
marketplace_buyer             included      included       included      included  included      limited       included
marketplace_seller            not_available opt_in         opt_in        opt_in    opt_in        not_available included
scorm_1_2_export              not_available included       included      included  included      included      included
scorm_2004_xapi_cmi5          not_available not_available  included      included  included      included      included
sso_scim                      not_available not_available  included      included  included      included      not_available
assignments_compliance        basic         basic          included      included  included      included      not_available
ai_admin_insight              not_available basic          v1            v1        v2            v2            not_available
api_keys_webhooks             not_available webhooks_only  included      included  included      included      included
lti_1_3                       not_available not_available  included      included  included      included      included
data_residency                not_available not_available  addon         addon     multi_region  multi_region  addon
hipaa_baa                     not_available not_available  not_available addon     addon         included      not_available
white_label                   not_available not_available  not_available addon     included      included      addon
mobile_native                 basic         basic          included      included  included      included      included
support_sla                   community     1_business_day 4_hours       premium   premium_plus  premium_plus  premium
`

var specRows, specCaps = func() (map[string]map[string]string, []string) {
	rows := map[string]map[string]string{"pilot": {}}
	for _, p := range specPlans {
		rows[p] = map[string]string{}
	}
	var caps []string
	for _, line := range strings.Split(strings.TrimSpace(specTable), "\n") {
		f := strings.Fields(line)
		caps = append(caps, f[0])
		for i, p := range specPlans {
			rows[p][f[0]] = f[i+1]
		}
		rows["pilot"][f[0]] = ValueNotAvailable
	}
	rows["pilot"]["learner_player_offline"], rows["pilot"]["ai_tutor"] = ValueIncluded, ValueIncluded
	return rows, caps
}()

// TestBookMatrixIsSpec6: the adapter over the shipped price book answers
// every cell of SPEC §6's table (8 plans × 19 capabilities), lists the 19
// capabilities, and knows no other plan or capability.
func TestBookMatrixIsSpec6(t *testing.T) {
	m := BookMatrix(pricebook.Default())
	if got := m.Capabilities(); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(specCaps))) || len(got) != 19 {
		t.Fatalf("capabilities %v, want the 19 of SPEC §6 %v", got, specCaps)
	}
	cells := 0
	for plan, row := range specRows {
		for capability, want := range row {
			got, ok := m.Entitlement(plan, capability)
			if !ok || got != want {
				t.Errorf("%s on %s: %q (%v), want %q", capability, plan, got, ok, want)
			}
			cells++
		}
	}
	if cells != 8*19 {
		t.Errorf("the table has %d cells, want 8 × 19", cells)
	}
	for _, c := range [][2]string{{"legacy", "sso_scim"}, {"team", "teleport"}, {"team", "seats.learner"}} {
		if v, ok := m.Entitlement(c[0], c[1]); ok {
			t.Errorf("%s on %s: %q, want unknown", c[1], c[0], v)
		}
	}
}
