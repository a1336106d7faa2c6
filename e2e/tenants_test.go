package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/pipeline"
)

func subStarted(id, tenant string, at time.Time, data string) string {
	return ev("billing", id, "subscription.started", tenant, at, data)
}

// TestAddonsFollowTheMatrix: a subscription naming an add-on its plan
// cannot have is refused at the door over HTTP (400 naming the field and
// the plan) and dead-lettered with that reason over NATS; the pilot plan
// is refused until its lifecycle exists; a plan's included add-on bills
// nothing and a sold one its price; marketplace_provider is billed like
// any plan. Figures worked by hand from SPEC §2 and §3.
func TestAddonsFollowTheMatrix(t *testing.T) {
	tl := startTally(t, withClock(december2))

	for _, tc := range []struct {
		name, event, field string
		says               []string
	}{
		{"white_label on starter", subStarted("s-wl", "t_starter", nov(1, 0), `{"plan":"starter","term":"monthly","currency":"USD","addons":["white_label"]}`),
			"data.addons[0]", []string{`"white_label"`, `plan "starter"`, "not_available"}},
		{"pilot", subStarted("s-pilot", "t_pilot", nov(1, 0), `{"plan":"pilot","term":"monthly","currency":"USD"}`),
			"data.plan", []string{`plan "pilot"`, "not supported yet"}},
	} {
		status, body := tl.sendBatch(tc.event)
		var eb pipeline.ErrorBody
		if err := json.Unmarshal(body, &eb); err != nil || status != http.StatusBadRequest || len(eb.Events) != 1 || eb.Events[0].Field != tc.field {
			t.Fatalf("%s: %d %s; want 400 on %s", tc.name, status, body, tc.field)
		}
		for _, s := range tc.says {
			if !strings.Contains(eb.Events[0].Message, s) {
				t.Errorf("%s: message %q does not say %s", tc.name, eb.Events[0].Message, s)
			}
		}
	}

	// The NATS path: published raw, dead-lettered with the same reason.
	nc, js := natsClient(t, tl)
	defer nc.Close()
	bad := subStarted("s-dr-team", "t_team", nov(1, 0), `{"plan":"team","term":"monthly","currency":"USD","addons":["data_residency"]}`)
	if _, err := js.Publish(context.Background(), "tally.ingest.raw", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the add-on in dead_letters", func() bool {
		return tl.count(`SELECT count() FROM dead_letters WHERE id = 's-dr-team' AND field = 'data.addons[0]'
			AND reason LIKE '%"data_residency" is not available on plan "team"%'`) == 1
	})

	events := []string{
		// marketplace_provider with white_label: base 0.00; white_label
		// 500.00; learners 12 × 4.00 = 48.00; AI (1,500 − 1,000) × 0.020 =
		// 10.00. Total 558.00.
		subStarted("s-mp", "t_globex", nov(1, 0), `{"plan":"marketplace_provider","term":"monthly","currency":"USD","addons":["white_label"]}`),
		credits("mp-c", "t_globex", nov(4, 0), "1500", "tutor"),
		// healthcare with hipaa_baa, included: the base only, 5,999.00.
		subStarted("s-hc", "t_initech", nov(1, 0), `{"plan":"healthcare","term":"monthly","currency":"USD","addons":["hipaa_baa"]}`),
		// enterprise with white_label, sold: 1,999.00 + 500.00 = 2,499.00.
		subStarted("s-ent", "t_acme", nov(1, 0), `{"plan":"enterprise","term":"monthly","currency":"USD","addons":["white_label"]}`),
	}
	events = append(events, seatEvents("mp-l", "t_globex", "learner", 12, nov(2, 0))...)
	tl.mustAccept(len(events), 0, events...)
	tl.closePeriod("2026-11")

	for _, want := range []struct {
		tenant, total string
		lines         map[string]string // item → amount
	}{
		{"t_globex", "558", map[string]string{"base:marketplace_provider": "0", "addon:white_label": "500", "seats:learner": "48", "ai_overage": "10"}},
		{"t_initech", "5999", map[string]string{"base:healthcare": "5999"}},
		{"t_acme", "2499", map[string]string{"base:enterprise": "1999", "addon:white_label": "500"}},
	} {
		invs := tl.invoices(want.tenant, "2026-11")
		if len(invs) != 1 {
			t.Fatalf("%s: %d invoices", want.tenant, len(invs))
		}
		got := map[string]string{}
		for _, l := range invs[0].Lines {
			got[l.Item] = l.Amount.String()
		}
		if invs[0].Total.String() != want.total || len(got) != len(want.lines) {
			t.Errorf("%s: total %s, lines %v; want %s, %v", want.tenant, invs[0].Total, got, want.total, want.lines)
		}
		for item, amount := range want.lines {
			if got[item] != amount {
				t.Errorf("%s %s: %q; want %s", want.tenant, item, got[item], amount)
			}
		}
	}
}

// TestTenantKeysSeeOnlyTheirTenant: a tenant key reads its own usage and
// invoices; another tenant's, or one that does not exist, is 404 with the
// same answer; routes that are not one tenant's data are 403.
func TestTenantKeysSeeOnlyTheirTenant(t *testing.T) {
	opt, keys := withTenantKeys(t, "t_a", "t_b")
	tl := startTally(t, withClock(december2), opt)
	events := []string{
		subStarted("a-sub", "t_a", nov(1, 0), `{"plan":"team","term":"monthly","currency":"USD"}`),
		credits("a-c", "t_a", nov(3, 0), "10", "tutor"),
		subStarted("b-sub", "t_b", nov(1, 0), `{"plan":"business","term":"monthly","currency":"USD"}`),
		credits("b-c", "t_b", nov(3, 0), "20", "tutor"),
	}
	tl.mustAccept(len(events), 0, events...)
	tl.closePeriod("2026-11")

	get := func(key, path string) (int, []byte) {
		status, _, body := tl.do(http.MethodGet, path, key, "", nil)
		return status, body
	}
	usageRange := "?from=2026-11-01&to=2026-12-01"
	for tenant, other := range map[string]string{"t_a": "t_b", "t_b": "t_a"} {
		key := keys[tenant]
		status, body := get(key, "/v1/tenants/"+tenant+"/usage"+usageRange)
		var u struct {
			Tenant string `json:"tenant"`
		}
		if err := json.Unmarshal(body, &u); status != http.StatusOK || err != nil || u.Tenant != tenant {
			t.Errorf("%s reads its usage: %d %s", tenant, status, body)
		}
		for _, path := range []string{"/v1/invoices", "/v1/invoices?tenant=" + tenant, "/v1/invoices?period=2026-11"} {
			status, body := get(key, path)
			var res struct {
				Invoices []billing.Invoice `json:"invoices"`
			}
			if err := json.Unmarshal(body, &res); status != http.StatusOK || err != nil || len(res.Invoices) != 1 || res.Invoices[0].Tenant != tenant {
				t.Errorf("%s GET %s: %d, %d invoices (%v); want its one invoice", tenant, path, status, len(res.Invoices), err)
			}
		}
		// Another tenant's data and a tenant that does not exist: the same 404.
		s1, b1 := get(key, "/v1/tenants/"+other+"/usage"+usageRange)
		s2, b2 := get(key, "/v1/tenants/t_nobody/usage"+usageRange)
		if s1 != http.StatusNotFound || s2 != http.StatusNotFound || string(b1) != string(b2) {
			t.Errorf("%s reads %s's usage: %d %s; an unknown tenant's: %d %s; want the same 404", tenant, other, s1, b1, s2, b2)
		}
		if s, b := get(key, "/v1/invoices?tenant="+other); s != http.StatusNotFound {
			t.Errorf("%s reads %s's invoices: %d %s; want 404", tenant, other, s, b)
		}
		for _, path := range []string{"/v1/unbilled?period=2026-11", "/v1/reports?period=2026-11", "/v1/payouts", "/v1/pipeline/watermark"} {
			if s, b := get(key, path); s != http.StatusForbidden {
				t.Errorf("%s GET %s: %d %s; want 403", tenant, path, s, b)
			}
		}
		if s, _, b := tl.do(http.MethodPost, "/v1/events", key, pipeline.ContentTypeBatch, []byte("["+credits("x-"+tenant, tenant, nov(5, 0), "1", "tutor")+"]")); s != http.StatusForbidden {
			t.Errorf("%s sends events: %d %s; want 403", tenant, s, b)
		}
	}
}
