package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/pipeline/emitter"
)

// slowSink makes the sink wait this long to fill a batch, so an event that
// got its 202 is certainly not stored yet when the next request arrives:
// without the read-your-writes barrier that request would miss it.
func slowSink(wait time.Duration) option {
	return func(c *daemon.Config) { c.SinkMaxWait = wait }
}

// closeTotals closes period and returns each tenant's totals by kind.
func (tl *tally) closeTotals(period string) map[string]map[string]string {
	tl.t.Helper()
	out := map[string]map[string]string{}
	for _, inv := range tl.closePeriod(period).Invoices {
		if out[inv.Tenant] == nil {
			out[inv.Tenant] = map[string]string{}
		}
		out[inv.Tenant][inv.Kind] = inv.Total.StringFixed(2)
	}
	return out
}

// checkWorkedExampleTotals checks the invoices of SPEC §3's worked
// examples, worked by hand:
//   - Team, monthly: base 199.00 + learners 15 × 4.00 = 60.00 + authors
//     2 × 15.00 = 30.00 + AI overage (6,250.5 − 5,000) × 0.018 = 22.509 →
//     22.51; total 311.51.
//   - Business, annual: upfront 12 × (499 + 100 × 6 + 10 × 20) = 15,588.00
//     less 20 % = 3,117.60 → 12,470.40; monthly usage 20 learners above the
//     committed 100 × 6.00 = 120.00 + (30,000 − 25,000) × 0.015 = 75.00 →
//     195.00.
func checkWorkedExampleTotals(t *testing.T, got map[string]map[string]string) {
	t.Helper()
	want := map[string]map[string]string{
		"tenant-team": {"monthly": "311.51"},
		"tenant-biz":  {"upfront": "12470.40", "monthly": "195.00"},
	}
	for tenant, kinds := range want {
		for kind, total := range kinds {
			if got[tenant][kind] != total {
				t.Errorf("%s %s invoice: total %q, want %s (all: %v)", tenant, kind, got[tenant][kind], total, got)
			}
		}
	}
}

// TestCloseRightAfterTheAcceptIncludesTheEvents: a close sent the moment
// the 202 came back sees every event of that batch (SPEC §5), although
// the sink holds them for two seconds.
func TestCloseRightAfterTheAcceptIncludesTheEvents(t *testing.T) {
	tl := startTally(t, withClock(december2), slowSink(2*time.Second))
	events := workedExampleEvents()
	tl.mustAccept(len(events), 0, events...)
	checkWorkedExampleTotals(t, tl.closeTotals("2026-11"))
}

// TestCloseRightAfterTheNATSAckIncludesTheEvents: the same over NATS,
// where the events still wait in the ingest stream for the validator when
// the close arrives.
func TestCloseRightAfterTheNATSAckIncludesTheEvents(t *testing.T) {
	tl := startTally(t, withClock(december2), slowSink(2*time.Second))
	nc, err := nats.Connect(tl.d.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	em, err := emitter.New(js, emitter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range workedExampleEvents() {
		if _, err := em.Emit(context.Background(), []byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	checkWorkedExampleTotals(t, tl.closeTotals("2026-11"))
}

// TestBalanceAndPayoutRunRightAfterTheAccept: a balance read and a payout
// run sent the moment the 202 came back see the sales of that batch.
// Worked by hand (SPEC §3): sale 59.00 with tax 9.00 → net 50.00, fee
// 7.50, share 42.50; sale 100.00 without tax → fee 15.00, share 85.00;
// together 127.50, held until Oct 15/16 (sale + 14 days), then available
// and above the 50.00 minimum, so the run of Oct 20 pays all of it.
func TestBalanceAndPayoutRunRightAfterTheAccept(t *testing.T) {
	keysOpt, keys := withProviderKeys(t, "prov-ada")
	tl := startTally(t, keysOpt, withClock(december2), slowSink(2*time.Second))
	tl.ingest, tl.finance = "ingest-key-for-the-marketplace-test", "finance-key-for-the-marketplace-test"
	oct := func(day int) time.Time { return time.Date(2026, 10, day, 9, 0, 0, 0, time.UTC) }

	tl.mustAccept(3, 0, kyc("kyc-ada", "prov-ada", oct(1), "acct_ada"),
		sale("o-1", "prov-ada", oct(1), "59.00", "9.00"), sale("o-2", "prov-ada", oct(2), "100.00", "0.00"))
	status, b := tl.balance(keys["prov-ada"], "prov-ada", "2026-10-10T00:00:00Z")
	if held, available, _ := usd(t, b); status != http.StatusOK || held != "127.50" || available != "0.00" {
		t.Fatalf("balance on Oct 10: %d, held %s available %s; want held 127.50, available 0.00", status, held, available)
	}

	tl.mustAccept(1, 0, sale("o-3", "prov-ada", oct(3), "20.00", "0.00")) // share 17.00, held until Oct 17
	res := tl.runPayouts("2026-10-20T00:00:00Z")
	if len(res.Payouts) != 1 || res.Payouts[0].Amount.StringFixed(2) != "144.50" {
		t.Fatalf("payout run of Oct 20 right after the third sale: %+v; want one payout of 127.50 + 17.00 = 144.50", res.Payouts)
	}
}

// TestBarrierTimesOutWith503 answers 503 with Retry-After and how far
// behind, when the sink cannot store in time, and never a partial answer.
func TestBarrierTimesOutWith503(t *testing.T) {
	tl := startTally(t, withClock(december2), slowSink(3*time.Second), func(c *daemon.Config) {
		c.BarrierTimeout = 100 * time.Millisecond
	})
	tl.mustAccept(2, 0, credits("c-1", "tenant-x", nov(3, 0), "10", "tutor"), credits("c-2", "tenant-x", nov(4, 0), "5", "tutor"))
	status, header, body := tl.do(http.MethodGet, "/v1/tenants/tenant-x/usage?from=2026-11-01&to=2026-12-01", tl.finance, "", nil)
	var behind struct {
		Error  string
		Behind struct{ Unstored uint64 }
	}
	if err := json.Unmarshal(body, &behind); err != nil {
		t.Fatalf("usage while behind: %d %s: %v", status, body, err)
	}
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" || behind.Behind.Unstored != 2 {
		t.Fatalf("usage while behind: %d, Retry-After %q, %s; want 503, a Retry-After and 2 unstored", status, header.Get("Retry-After"), body)
	}

	// An emitter waits on the barrier explicitly until it passes.
	var p pipeline.Progress
	waitFor(t, time.Minute, "the barrier to pass", func() bool {
		status, _, body := tl.do(http.MethodPost, "/v1/pipeline/barrier", tl.ingest, "", nil)
		return status == http.StatusOK && json.Unmarshal(body, &p) == nil
	})
	if p.Events.Pending != 0 || p.Events.Through < 2 {
		t.Fatalf("progress after the barrier: %+v; want both events stored", p)
	}
	u := tl.usage("tenant-x", "2026-11-01", "2026-12-01")
	if total := u["ai_credits"].(map[string]any)["total"]; total != "15" {
		t.Fatalf("usage after the barrier: credits %v, want 10 + 5 = 15", total)
	}
}
