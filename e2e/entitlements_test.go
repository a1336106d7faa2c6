package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/entitlements"
	"github.com/tally-billing/tally/internal/testnet"
	"github.com/tally-billing/tally/natsembed"
	"github.com/tally-billing/tally/pipeline"
)

// The expected figures below are SPEC §2 and §6 worked by hand: Team
// limits learners at 50 and has marketplace_seller opt_in; Business
// shares 250 seats between learners and authors and includes sso_scim;
// Enterprise sells white_label as an add-on; Starter has
// marketplace_seller not_available.

// entNow is the daemons' clock in the entitlement tests: every event is
// before it, in November 2026.
var entNow = nov(20, 12)

// entCapabilities are the matrix's 19 capabilities (SPEC §6) in the price
// book's order (sorted by key), then the three checks of seats and AI
// credits, as the 404 of an unknown capability lists them.
var entCapabilities = append(slices.Sorted(slices.Values([]string{
	"learner_player_offline", "ai_tutor", "authoring", "ai_co_author", "live_collab_offline_authoring",
	"marketplace_buyer", "marketplace_seller", "scorm_1_2_export", "scorm_2004_xapi_cmi5", "sso_scim",
	"assignments_compliance", "ai_admin_insight", "api_keys_webhooks", "lti_1_3", "data_residency",
	"hipaa_baa", "white_label", "mobile_native", "support_sla",
})), "seats.learner", "seats.author", "ai_credits")

// check answers GET /v1/tenants/{t}/entitlements/{capability} with key,
// requiring 200.
func (tl *tally) check(key, tenant, capability string) entitlements.CheckResult {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodGet, "/v1/tenants/"+tenant+"/entitlements/"+capability, key, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("check %s of %s: status %d: %s", capability, tenant, status, body)
	}
	var c entitlements.CheckResult
	if err := json.Unmarshal(body, &c); err != nil {
		tl.t.Fatal(err)
	}
	return c
}

// wantCheck requires a check's allowed and reason.
func (tl *tally) wantCheck(tenant, capability string, allowed bool, reason string) entitlements.CheckResult {
	tl.t.Helper()
	c := tl.check(tl.finance, tenant, capability)
	if c.Capability != capability || c.Allowed != allowed || c.Reason != reason {
		tl.t.Errorf("%s of %s: got %+v, want allowed %v reason %s", capability, tenant, c, allowed, reason)
	}
	return c
}

// wantFigures requires a check's used, limit and remaining ("" for
// absent).
func wantFigures(t *testing.T, c entitlements.CheckResult, used, limit, remaining string) {
	t.Helper()
	str := func(p interface{ String() string }, isNil bool) string {
		if isNil {
			return ""
		}
		return p.String()
	}
	got := [3]string{str(c.Used, c.Used == nil), str(c.Limit, c.Limit == nil), str(c.Remaining, c.Remaining == nil)}
	if got != [3]string{used, limit, remaining} {
		t.Errorf("%s: used, limit, remaining %q, want %q", c.Capability, got, [3]string{used, limit, remaining})
	}
}

// entitlementsOf reads a tenant's whole view as raw JSON and decoded.
func (tl *tally) entitlementsOf(tenant string) (entitlements.View, []byte) {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodGet, "/v1/tenants/"+tenant+"/entitlements", tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("entitlements of %s: status %d: %s", tenant, status, body)
	}
	var v entitlements.View
	if err := json.Unmarshal(body, &v); err != nil {
		tl.t.Fatal(err)
	}
	return v, body
}

func subStart(id, tenant, plan string, at time.Time, extra string) string {
	return ev("billing", id, "subscription.started", tenant, at, fmt.Sprintf(`{"plan":%q,"term":"monthly","currency":"USD"%s}`, plan, extra))
}

func subChange(id, tenant, plan string, at time.Time, extra string) string {
	return ev("billing", id, "subscription.changed", tenant, at, fmt.Sprintf(`{"plan":%q,"term":"monthly","currency":"USD"%s}`, plan, extra))
}

func flagSet(id, tenant, flag string, enabled bool, at time.Time) string {
	return ev("admin", id, "tenant.feature_flag.set", tenant, at, fmt.Sprintf(`{"flag":%q,"enabled":"%t"}`, flag, enabled))
}

func capSet(id, tenant, credits string, at time.Time) string {
	return ev("admin", id, "tenant.ai_cap.set", tenant, at, fmt.Sprintf(`{"monthly_credits":%q}`, credits))
}

// TestEntitlementsFollowTheEvents: every check answers right after the
// 202 of the event that changes it (the read-your-writes barrier and the
// fold), on one daemon with real NATS and ClickHouse.
func TestEntitlementsFollowTheEvents(t *testing.T) {
	tl := startTally(t, withClock(entNow))

	t.Run("team seats: the 50th learner allowed, the 51st not", func(t *testing.T) {
		tl.mustAccept(1, 0, subStart("seat-start", "tenant-seats", "team", nov(1, 0), ""))
		tl.mustAccept(49, 0, seatEvents("seat-l", "tenant-seats", "learner", 49, nov(2, 0))...)
		c := tl.wantCheck("tenant-seats", "seats.learner", true, entitlements.ReasonSeatsAvailable)
		wantFigures(t, c, "49", "50", "1")
		// The 50th is assigned; a 51st would pass the limit.
		tl.mustAccept(1, 0, ev("licences", "seat-l-49", "seat.assigned", "tenant-seats", nov(3, 0),
			`{"user_id":"seat-l-u49","seat_type":"learner"}`))
		c = tl.wantCheck("tenant-seats", "seats.learner", false, entitlements.ReasonSeatLimitReached)
		wantFigures(t, c, "50", "50", "0")
		// One released: one more fits again.
		tl.mustAccept(1, 0, ev("licences", "seat-r-0", "seat.released", "tenant-seats", nov(4, 0),
			`{"user_id":"seat-l-u0","seat_type":"learner"}`))
		c = tl.wantCheck("tenant-seats", "seats.learner", true, entitlements.ReasonSeatsAvailable)
		wantFigures(t, c, "49", "50", "1")
		// Team limits authors at 5, none held.
		c = tl.wantCheck("tenant-seats", "seats.author", true, entitlements.ReasonSeatsAvailable)
		wantFigures(t, c, "0", "5", "5")
	})

	t.Run("AI cap reached", func(t *testing.T) {
		tl.mustAccept(2, 0, subStart("cap-start", "tenant-cap", "team", nov(1, 0), ""),
			capSet("cap-set", "tenant-cap", "1000", nov(1, 1)))
		tl.mustAccept(1, 0, credits("cap-c1", "tenant-cap", nov(5, 0), "600", "tutor"))
		c := tl.wantCheck("tenant-cap", "ai_credits", true, entitlements.ReasonWithinCap)
		wantFigures(t, c, "600", "1000", "400")
		tl.mustAccept(1, 0, credits("cap-c2", "tenant-cap", nov(6, 0), "400", "tutor"))
		c = tl.wantCheck("tenant-cap", "ai_credits", false, entitlements.ReasonAICapReached)
		wantFigures(t, c, "1000", "1000", "0")
		// "0" removes the cap: always allowed, without a limit.
		tl.mustAccept(1, 0, capSet("cap-off", "tenant-cap", "0", nov(7, 0)))
		c = tl.wantCheck("tenant-cap", "ai_credits", true, entitlements.ReasonNoCap)
		wantFigures(t, c, "1000", "", "")
		v, _ := tl.entitlementsOf("tenant-cap")
		// Team: 5,000 credits a month, 1,000 consumed.
		if v.AICredits.Allowance.String() != "5000" || v.AICredits.Consumed.String() != "1000" ||
			v.AICredits.RemainingBeforeOverage.String() != "4000" || v.AICredits.Cap != nil {
			t.Errorf("ai credits %+v, want allowance 5000, consumed 1000, 4000 before overage, no cap", v.AICredits)
		}
	})

	t.Run("add-on bought mid-month", func(t *testing.T) {
		tl.mustAccept(1, 0, subStart("addon-start", "tenant-addon", "enterprise", nov(1, 0), ""))
		tl.wantCheck("tenant-addon", "white_label", false, entitlements.ReasonAddonNotBought)
		tl.mustAccept(1, 0, subChange("addon-buy", "tenant-addon", "enterprise", nov(15, 0), `,"addons":["white_label"]`))
		c := tl.wantCheck("tenant-addon", "white_label", true, entitlements.ReasonAddonActive)
		if c.Value != entitlements.ValueAddon {
			t.Errorf("white_label on enterprise: value %q, want addon", c.Value)
		}
		v, _ := tl.entitlementsOf("tenant-addon")
		if !slices.Equal(v.Addons, []string{"white_label"}) {
			t.Errorf("addons %v, want [white_label]", v.Addons)
		}
		for _, row := range v.Capabilities {
			if row.Capability == "white_label" && !row.AddonActive || row.Capability == "hipaa_baa" && row.AddonActive {
				t.Errorf("row %+v: only white_label's add-on is active", row)
			}
		}
	})

	t.Run("plan change", func(t *testing.T) {
		tl.mustAccept(1, 0, subStart("plan-start", "tenant-plan", "team", nov(1, 0), ""))
		tl.wantCheck("tenant-plan", "sso_scim", false, entitlements.ReasonNotAvailable)
		tl.mustAccept(3, 0, seatEvents("plan-a", "tenant-plan", "author", 3, nov(2, 0))...)
		tl.mustAccept(1, 0, subChange("plan-up", "tenant-plan", "business", nov(10, 0), ""))
		tl.wantCheck("tenant-plan", "sso_scim", true, entitlements.ReasonIncluded)
		// Business shares 250 seats between learners and authors.
		c := tl.wantCheck("tenant-plan", "seats.learner", true, entitlements.ReasonSeatsAvailable)
		wantFigures(t, c, "3", "250", "247")
		v, _ := tl.entitlementsOf("tenant-plan")
		if v.Plan != "business" || v.Term != "monthly" {
			t.Errorf("plan %q term %q, want business monthly", v.Plan, v.Term)
		}
	})

	t.Run("feature flag toggled", func(t *testing.T) {
		tl.mustAccept(1, 0, subStart("flag-start", "tenant-flag", "team", nov(1, 0), ""))
		tl.wantCheck("tenant-flag", "marketplace_seller", false, entitlements.ReasonNotOptedIn)
		tl.mustAccept(1, 0, flagSet("flag-on", "tenant-flag", "marketplace_seller", true, nov(2, 0)))
		c := tl.wantCheck("tenant-flag", "marketplace_seller", true, entitlements.ReasonOptedIn)
		if c.Value != entitlements.ValueOptIn {
			t.Errorf("marketplace_seller on team: value %q, want opt_in", c.Value)
		}
		tl.mustAccept(1, 0, flagSet("flag-off", "tenant-flag", "marketplace_seller", false, nov(3, 0)))
		tl.wantCheck("tenant-flag", "marketplace_seller", false, entitlements.ReasonNotOptedIn)
		// A flag set earlier than the last one (by event time) does not win.
		tl.mustAccept(1, 0, flagSet("flag-late", "tenant-flag", "marketplace_seller", true, nov(2, 12)))
		tl.wantCheck("tenant-flag", "marketplace_seller", false, entitlements.ReasonNotOptedIn)
		v, _ := tl.entitlementsOf("tenant-flag")
		if on, ok := v.Flags["marketplace_seller"]; !ok || on {
			t.Errorf("flags %v, want marketplace_seller off", v.Flags)
		}
	})

	t.Run("unknown tenant is allowed nothing", func(t *testing.T) {
		for _, capability := range entCapabilities {
			tl.wantCheck("tenant-nobody", capability, false, entitlements.ReasonNoSubscription)
		}
		v, _ := tl.entitlementsOf("tenant-nobody")
		if v.Subscribed || len(v.Capabilities) != 19 {
			t.Errorf("unknown tenant: subscribed %v, %d capabilities, want false and 19", v.Subscribed, len(v.Capabilities))
		}
	})

	t.Run("unknown capability is a 404 listing the capabilities", func(t *testing.T) {
		status, _, body := tl.do(http.MethodGet, "/v1/tenants/tenant-seats/entitlements/teleportation", tl.finance, "", nil)
		if status != http.StatusNotFound {
			t.Fatalf("status %d, want 404: %s", status, body)
		}
		var nf struct {
			Error        string   `json:"error"`
			Capabilities []string `json:"capabilities"`
		}
		if err := json.Unmarshal(body, &nf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(nf.Error, "teleportation") || !slices.Equal(nf.Capabilities, entCapabilities) {
			t.Errorf("404 body %s, want the capability named and the list %v", body, entCapabilities)
		}
	})

	t.Run("malformed tenant state events are a 400 naming the field", func(t *testing.T) {
		good := flagSet("bad-good", "tenant-bad", "beta", true, nov(2, 0))
		for _, tc := range []struct{ event, field string }{
			{ev("admin", "bad-1", "tenant.feature_flag.set", "tenant-bad", nov(2, 0), `{"flag":"beta","enabled":"yes"}`), "data.enabled"},
			{ev("admin", "bad-2", "tenant.feature_flag.set", "tenant-bad", nov(2, 0), `{"enabled":"true"}`), "data.flag"},
			{ev("admin", "bad-3", "tenant.ai_cap.set", "tenant-bad", nov(2, 0), `{"monthly_credits":"-5"}`), "data.monthly_credits"},
			{ev("admin", "bad-4", "tenant.ai_cap.set", "tenant-bad", nov(2, 0), `{"monthly_credits":100}`), "data.monthly_credits"},
			{ev("admin", "bad-5", "marketplace.seller.enrolled", "tenant-bad", nov(2, 0), `{}`), "data.provider"},
			{ev("admin", "bad-6", "marketplace.seller.left", "tenant-bad", nov(2, 0), `{"provider":""}`), "data.provider"},
		} {
			status, body := tl.sendBatch(good, tc.event)
			if status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400: %s", tc.field, status, body)
			}
			var eb pipeline.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatal(err)
			}
			if len(eb.Events) != 1 || eb.Events[0].Index != 1 || eb.Events[0].Field != tc.field {
				t.Errorf("400 body %s, want one error of event 1 naming %s", body, tc.field)
			}
		}
		// Nothing of a refused batch is stored.
		if n := tl.rows("tenant-bad"); n != 0 {
			t.Errorf("%d rows of tenant-bad stored, want 0", n)
		}
	})
}

// TestEntitlementsAcrossReplicasAndRestarts: two replicas on one NATS
// and one ClickHouse answer the same, whichever took the events; a
// restarted replica boots the same state from ClickHouse; an enrolment
// where the plan cannot sell is dead-lettered once, by both replicas'
// folds together.
func TestEntitlementsAcrossReplicasAndRestarts(t *testing.T) {
	ns := startNATS(t)
	dsn := newDatabase(t)
	a := startTally(t, withNATS(ns), withDSN(dsn), withClock(entNow))
	b := startTally(t, withNATS(ns), withDSN(dsn), withClock(entNow))

	a.mustAccept(3, 0,
		subStart("rep-start", "tenant-rep", "team", nov(1, 0), ""),
		capSet("rep-cap", "tenant-rep", "2000", nov(1, 1)),
		flagSet("rep-flag", "tenant-rep", "marketplace_seller", true, nov(1, 2)))
	b.mustAccept(50, 0, seatEvents("rep-l", "tenant-rep", "learner", 50, nov(2, 0))...)
	a.mustAccept(2, 0, credits("rep-c1", "tenant-rep", nov(3, 0), "1500", "tutor"),
		credits("rep-c2", "tenant-rep", nov(4, 0), "700.25", "tutor"))
	b.mustAccept(2, 0, subStart("rep-starter", "tenant-starter", "starter", nov(1, 0), ""),
		ev("admin", "rep-enrol", "marketplace.seller.enrolled", "tenant-starter", nov(2, 0), `{"provider":"prov-starter"}`))

	want := map[string]struct {
		allowed bool
		reason  string
	}{
		"seats.learner":      {false, entitlements.ReasonSeatLimitReached},
		"ai_credits":         {false, entitlements.ReasonAICapReached},
		"marketplace_seller": {true, entitlements.ReasonOptedIn},
		"sso_scim":           {false, entitlements.ReasonNotAvailable},
	}
	// Both replicas, read right after the 202s (each passes the barrier).
	for _, tl := range []*tally{a, b} {
		for capability, w := range want {
			tl.wantCheck("tenant-rep", capability, w.allowed, w.reason)
		}
		// The refused enrolment is not in the state: starter cannot sell.
		tl.wantCheck("tenant-starter", "marketplace_seller", false, entitlements.ReasonNotAvailable)
	}
	va, rawA := a.entitlementsOf("tenant-rep")
	_, rawB := b.entitlementsOf("tenant-rep")
	if !sameView(t, rawA, rawB) {
		t.Errorf("replicas differ:\n a %s\n b %s", rawA, rawB)
	}
	if va.AICredits.Consumed.String() != "2200.25" || va.Seats["learner"].Assigned != 50 {
		t.Errorf("a: consumed %s, learners %d; want 2200.25 and 50", va.AICredits.Consumed, va.Seats["learner"].Assigned)
	}
	vs, _ := a.entitlementsOf("tenant-starter")
	if len(vs.Sellers) != 0 {
		t.Errorf("starter's sellers %v, want none (the enrolment is refused)", vs.Sellers)
	}
	const refused = "SELECT count() FROM dead_letters FINAL WHERE id = 'rep-enrol' AND reason LIKE 'seller_not_available%'"
	waitFor(t, time.Minute, "the refused enrolment dead-lettered", func() bool { return a.count(refused) == 1 })

	// a restarts: its state boots from ClickHouse and answers as before,
	// and as b.
	cfg := a.cfg
	a.stop()
	a = restartTally(t, cfg)
	_, rawA2 := a.entitlementsOf("tenant-rep")
	if !sameView(t, rawA2, rawB) {
		t.Errorf("after a restart, a differs from b:\n a %s\n b %s", rawA2, rawB)
	}
	for capability, w := range want {
		a.wantCheck("tenant-rep", capability, w.allowed, w.reason)
	}
	a.wantCheck("tenant-starter", "marketplace_seller", false, entitlements.ReasonNotAvailable)
	// One more event, sent to b, is seen by the restarted a.
	b.mustAccept(1, 0, ev("licences", "rep-r", "seat.released", "tenant-rep", nov(5, 0), `{"user_id":"rep-l-u7","seat_type":"learner"}`))
	c := a.wantCheck("tenant-rep", "seats.learner", true, entitlements.ReasonSeatsAvailable)
	wantFigures(t, c, "49", "50", "1")
	if n := a.count("SELECT count() FROM dead_letters WHERE id = 'rep-enrol'"); n != 1 {
		t.Errorf("the refused enrolment dead-lettered %d times, want once", n)
	}
}

// sameView compares two views of one tenant but for the position each
// replica had folded to (both at or past every acknowledged event).
func sameView(t *testing.T, a, b []byte) bool {
	t.Helper()
	var ma, mb map[string]any
	if err := json.Unmarshal(a, &ma); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &mb); err != nil {
		t.Fatal(err)
	}
	delete(ma, "position")
	delete(mb, "position")
	ja, _ := json.Marshal(ma)
	jb, _ := json.Marshal(mb)
	return string(ja) == string(jb)
}

// startNATS starts an embedded NATS server that several daemons of a
// test share, and returns its client URL.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(t.TempDir(), "nats"), ListenAddr: testnet.FreeAddr(t),
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// TestEntitlementsWithTenantKeys: a tenant key reads its own tenant's
// entitlements, and gets the same 404 for another tenant's as for a
// tenant that does not exist; an ingest key is refused.
func TestEntitlementsWithTenantKeys(t *testing.T) {
	keys, tenantKeys := withTenantKeys(t, "t_ent_a", "t_ent_b")
	tl := startTally(t, withClock(entNow), keys)
	tl.mustAccept(2, 0, subStart("tk-a", "t_ent_a", "business", nov(1, 0), ""),
		subStart("tk-b", "t_ent_b", "team", nov(1, 0), ""))

	own := tenantKeys["t_ent_a"]
	if c := tl.check(own, "t_ent_a", "sso_scim"); !c.Allowed || c.Reason != entitlements.ReasonIncluded {
		t.Errorf("t_ent_a's own key, sso_scim on business: %+v, want allowed (included)", c)
	}
	status, _, body := tl.do(http.MethodGet, "/v1/tenants/t_ent_a/entitlements", own, "", nil)
	var v entitlements.View
	if err := json.Unmarshal(body, &v); err != nil || status != http.StatusOK || v.Plan != "business" {
		t.Errorf("t_ent_a's own key, its view: %d %s", status, body)
	}
	for _, path := range []string{"/v1/tenants/t_ent_b/entitlements", "/v1/tenants/t_ent_b/entitlements/sso_scim"} {
		other, _, otherBody := tl.do(http.MethodGet, path, own, "", nil)
		none, _, noneBody := tl.do(http.MethodGet, strings.Replace(path, "t_ent_b", "t_nobody", 1), own, "", nil)
		if other != http.StatusNotFound || none != http.StatusNotFound || string(otherBody) != string(noneBody) {
			t.Errorf("t_ent_a's key on %s: %d %s; on a tenant that does not exist: %d %s; want the same 404",
				path, other, otherBody, none, noneBody)
		}
	}
	if status, _, body := tl.do(http.MethodGet, "/v1/tenants/t_ent_a/entitlements/sso_scim", tl.ingest, "", nil); status != http.StatusForbidden {
		t.Errorf("ingest key: %d %s, want 403", status, body)
	}
	// b's key reads b: team has no sso_scim.
	if c := tl.check(tenantKeys["t_ent_b"], "t_ent_b", "sso_scim"); c.Allowed || c.Reason != entitlements.ReasonNotAvailable {
		t.Errorf("t_ent_b's own key, sso_scim on team: %+v, want not_available", c)
	}
}

// TestSaleOfASellerNotEntitledIsNotPaid: a Team tenant enrols as seller
// prov-seller (Team: marketplace_seller opt_in), then moves to Starter
// (not_available). The sale before the move is paid; the sale after it is
// dead-lettered seller_not_entitled and left out of the payout and the
// balance. Fee 15 % of net, hold 14 days, minimum 50.00 (SPEC §2, §3):
// sale Nov 5, gross 100.00, no tax → share 85.00, available Nov 19.
func TestSaleOfASellerNotEntitledIsNotPaid(t *testing.T) {
	tl := startTally(t, withClock(december2))
	tl.mustAccept(6, 0,
		subStart("ns-start", "tenant-seller", "team", nov(1, 0), ""),
		ev("admin", "ns-enrol", "marketplace.seller.enrolled", "tenant-seller", nov(2, 0), `{"provider":"prov-seller"}`),
		kyc("ns-kyc", "prov-seller", nov(2, 0), "acct_seller"),
		sale("ns-o1", "prov-seller", nov(5, 0), "100.00", "0"),
		subChange("ns-down", "tenant-seller", "starter", nov(10, 0), ""),
		sale("ns-o2", "prov-seller", nov(12, 0), "200.00", "0"))

	res := tl.runPayouts("2026-12-01T00:00:00Z")
	if len(res.Payouts) != 1 || res.Payouts[0].Provider != "prov-seller" || res.Payouts[0].Amount.String() != "85" {
		t.Fatalf("payouts %+v, want prov-seller's 85.00 (the Nov 12 sale left out)", res.Payouts)
	}
	const dead = "SELECT count() FROM dead_letters FINAL WHERE id = 'ns-o2' AND reason LIKE 'seller_not_entitled%'"
	waitFor(t, time.Minute, "the sale not entitled dead-lettered", func() bool { return tl.count(dead) == 1 })
	if n := tl.count("SELECT count() FROM dead_letters FINAL WHERE id = 'ns-o1'"); n != 0 {
		t.Errorf("the sale before the move was dead-lettered")
	}
	status, b := tl.balance(tl.finance, "prov-seller", "2026-12-01T00:00:00Z")
	if status != http.StatusOK || len(b.Balances) != 1 || b.Balances[0].Available.String() != "0" || b.Balances[0].Paid.String() != "85" {
		t.Errorf("balance %d %+v, want available 0.00 and 85.00 paid", status, b)
	}
}
