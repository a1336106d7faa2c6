package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/daemon"
)

// december2 is the clock of the billing tests: November 2026 has ended.
var december2 = time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)

func nov(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }

func seatEvents(prefix, tenant, kind string, n int, at time.Time) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ev("licences", fmt.Sprintf("%s-%d", prefix, i), "seat.assigned", tenant, at.Add(time.Duration(i)*time.Minute),
			fmt.Sprintf(`{"user_id":"%s-u%d","seat_type":%q}`, prefix, i, kind))
	}
	return out
}

// workedExampleEvents are the events of SPEC §3's Team and Business examples.
func workedExampleEvents() []string {
	var events []string
	events = append(events,
		ev("billing", "team-start", "subscription.started", "tenant-team", nov(1, 0),
			`{"plan":"team","term":"monthly","currency":"USD"}`),
		ev("billing", "biz-start", "subscription.started", "tenant-biz", nov(1, 0),
			`{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"100","author":"10"}}`),
	)
	events = append(events, seatEvents("team-l", "tenant-team", "learner", 15, nov(2, 0))...)
	events = append(events, seatEvents("team-a", "tenant-team", "author", 2, nov(2, 0))...)
	events = append(events,
		credits("team-c1", "tenant-team", nov(3, 0), "6000", "tutor"),
		credits("team-c2", "tenant-team", nov(20, 0), "250.5", "translate"),
	)
	events = append(events, seatEvents("biz-l", "tenant-biz", "learner", 120, nov(5, 0))...)
	events = append(events, seatEvents("biz-a", "tenant-biz", "author", 10, nov(5, 0))...)
	events = append(events, credits("biz-c1", "tenant-biz", nov(6, 0), "30000", "co_author"))
	return events
}

func (tl *tally) invoices(tenant, period string) []billing.Invoice {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodGet, "/v1/invoices?tenant="+tenant+"&period="+period, tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("invoices: %d %s", status, body)
	}
	var res struct {
		Invoices []billing.Invoice `json:"invoices"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		tl.t.Fatal(err)
	}
	return res.Invoices
}

func (tl *tally) closePeriod(period string) billing.CloseResult {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodPost, "/v1/periods/"+period+"/close", tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("close %s: %d %s", period, status, body)
	}
	var res billing.CloseResult
	if err := json.Unmarshal(body, &res); err != nil {
		tl.t.Fatal(err)
	}
	return res
}

// line finds the line of an invoice by kind and item.
func line(t *testing.T, inv billing.Invoice, kind, item string) billing.Line {
	t.Helper()
	for _, l := range inv.Lines {
		if l.Kind == kind && l.Item == item {
			return l
		}
	}
	t.Fatalf("invoice %s (%s) has no %s line %q: %+v", inv.ID, inv.Kind, kind, item, inv.Lines)
	return billing.Line{}
}

func byKind(invs []billing.Invoice) map[string]billing.Invoice {
	out := map[string]billing.Invoice{}
	for _, inv := range invs {
		out[inv.Kind] = inv
	}
	return out
}

// TestWorkedExamplesEndToEnd sends SPEC's Team and Business examples over
// HTTP, closes November 2026, and checks the invoices line by line against
// the figures worked by hand in SPEC §3, and the Stripe requests.
func TestWorkedExamplesEndToEnd(t *testing.T) {
	stripe := newStripeRecorder(t)
	tl := startTally(t, withClock(december2), withStripe(stripe.URL))
	events := workedExampleEvents()
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("tenant-team", 1+15+2+2)
	tl.waitRows("tenant-biz", 1+120+10+1)

	res := tl.closePeriod("2026-11")
	if res.AlreadyClosed || len(res.Invoices) != 3 {
		t.Fatalf("close: already %v, %d invoices, want 3", res.AlreadyClosed, len(res.Invoices))
	}

	team := tl.invoices("tenant-team", "2026-11")
	if len(team) != 1 {
		t.Fatalf("team invoices: %d", len(team))
	}
	ti := team[0]
	for _, c := range []struct{ kind, item, amount string }{
		{"base", "base:team", "199"},
		{"seats", "seats:learner", "60"},
		{"seats", "seats:author", "30"},
		{"ai_overage", "ai_overage", "22.51"},
	} {
		if l := line(t, ti, c.kind, c.item); l.Amount.String() != c.amount {
			t.Errorf("team %s: %s, want %s", c.item, l.Amount, c.amount)
		}
	}
	if ti.Total.String() != "311.51" || ti.Currency != "USD" || ti.Status != billing.StatusSent || ti.StripeInvoiceID == "" {
		t.Errorf("team invoice: total %s %s, status %s, stripe %q; want 311.51 USD sent", ti.Total, ti.Currency, ti.Status, ti.StripeInvoiceID)
	}
	if l := line(t, ti, "ai_overage", "ai_overage"); l.Quantity.String() != "1250.5" || l.UnitPrice.String() != "0.018" {
		t.Errorf("AI overage %s × %s, want 1250.5 × 0.018", l.Quantity, l.UnitPrice)
	}

	biz := byKind(tl.invoices("tenant-biz", "2026-11"))
	up, usage := biz["upfront"], biz["monthly"]
	if up.Subtotal.String() != "15588" || up.Discount.String() != "-3117.6" || up.Total.String() != "12470.4" {
		t.Errorf("business upfront: subtotal %s discount %s total %s; want 15588.00, -3117.60, 12470.40", up.Subtotal, up.Discount, up.Total)
	}
	if l := line(t, usage, "seats", "seats:learner"); l.Quantity.String() != "20" || l.Amount.String() != "120" {
		t.Errorf("business learners: %s seats, %s; want 20 and 120.00", l.Quantity, l.Amount)
	}
	if l := line(t, usage, "ai_overage", "ai_overage"); l.Quantity.String() != "5000" || l.Amount.String() != "75" {
		t.Errorf("business AI overage: %s credits, %s; want 5000 and 75.00", l.Quantity, l.Amount)
	}
	if usage.Total.String() != "195" {
		t.Errorf("business November usage total %s, want 195.00", usage.Total)
	}

	// Stripe: one customer per tenant, one invoice each with one item per
	// line, each finalized.
	lines := len(ti.Lines) + len(up.Lines) + len(usage.Lines)
	want := map[string]int{
		"POST /v1/customers":              2,
		"POST /v1/invoices":               3,
		"POST /v1/invoiceitems":           lines,
		"POST /v1/invoices/{id}/finalize": 3,
	}
	for call, n := range want {
		if got := stripe.count(call); got != n {
			t.Errorf("%s: %d requests, want %d (all: %v)", call, got, n, stripe.snapshot())
		}
	}

	// Closing again changes nothing and sends nothing.
	before := stripe.snapshot()
	again := tl.closePeriod("2026-11")
	if !again.AlreadyClosed || len(again.Invoices) != 3 {
		t.Fatalf("second close: already %v, %d invoices", again.AlreadyClosed, len(again.Invoices))
	}
	for _, inv := range again.Invoices {
		for _, first := range res.Invoices {
			if inv.ID == first.ID && !inv.Total.Equal(first.Total) {
				t.Errorf("invoice %s changed on re-close: %s → %s", inv.ID, first.Total, inv.Total)
			}
		}
	}
	if after := stripe.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a second close called Stripe: %v → %v", before, after)
	}
}

// TestLateEventBecomesAnAdjustment closes November, receives a November
// event late, and closes December: December's invoice carries an
// adjustment line naming November; November's invoice is unchanged.
func TestLateEventBecomesAnAdjustment(t *testing.T) {
	dsn := newDatabase(t)
	dir := t.TempDir()
	tl := startTally(t, withClock(december2), withDSN(dsn), withDataDir(dir))
	events := workedExampleEvents()[:2+15+2+2] // both starts and the Team tenant
	events = append(events[:1], events[2:]...) // (drop the Business start)
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("tenant-team", uint64(len(events)))
	novInv := tl.closePeriod("2026-11").Invoices
	if len(novInv) != 1 || novInv[0].Total.String() != "311.51" || novInv[0].Status != billing.StatusNotSent {
		t.Fatalf("November: %+v", novInv)
	}

	// 1,000 more November credits arrive after the close, and the whole
	// November subscription of another tenant.
	tl.mustAccept(2, 0, credits("team-late", "tenant-team", nov(28, 0), "1000", "tutor"),
		ev("billing", "late-start", "subscription.started", "tenant-latecomer", nov(1, 0), `{"plan":"team","term":"monthly","currency":"USD"}`))
	tl.waitRows("tenant-team", uint64(len(events)+1))
	tl.waitRows("tenant-latecomer", 1)
	cfg := tl.cfg
	tl.stop()

	january2 := time.Date(2027, 1, 2, 2, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return january2 }
	tl = restartTally(t, cfg)
	tl.closePeriod("2026-12")
	dec := tl.invoices("tenant-team", "2026-12")
	if len(dec) != 1 {
		t.Fatalf("December invoices: %+v", dec)
	}
	// November re-rated: (6,250.5 + 1,000 − 5,000) × 0.018 = 40.509 → 40.51,
	// billed 22.51, so the adjustment is 18.00. December: base 199.00, 15
	// learners 60.00 and 2 authors 30.00 carried over, no credits.
	adj := line(t, dec[0], "adjustment", "ai_overage")
	if adj.Period != "2026-11" || adj.Amount.String() != "18" {
		t.Errorf("adjustment: period %s amount %s, want 2026-11 and 18.00", adj.Period, adj.Amount)
	}
	if dec[0].Total.String() != "307" {
		t.Errorf("December total %s, want 307.00 (199 + 60 + 30 + 18)", dec[0].Total)
	}
	// The latecomer's November, closed without it, is billed on its
	// December invoice: base 199.00 for 2026-11 as an adjustment, and
	// December's own 199.00.
	late := tl.invoices("tenant-latecomer", "2026-12")
	if len(late) != 1 || late[0].Total.String() != "398" {
		t.Fatalf("latecomer December: %+v, want a total of 398.00", late)
	}
	if l := line(t, late[0], "adjustment", "base:team"); l.Period != "2026-11" || l.Amount.String() != "199" {
		t.Errorf("latecomer adjustment %+v, want base 199.00 for 2026-11", l)
	}
	again := tl.invoices("tenant-team", "2026-11")
	if len(again) != 1 || again[0].Total.String() != "311.51" || len(again[0].Lines) != len(novInv[0].Lines) {
		t.Errorf("November's finalized invoice changed: %+v", again)
	}
}

// TestSendFailedUnbilledAndOpenPeriods: a 400 from Stripe marks the invoice
// send_failed with the reason and is not retried; usage without a
// subscription is on the unbilled report; an open period cannot be closed.
func TestSendFailedUnbilledAndOpenPeriods(t *testing.T) {
	stripe := newStripeRecorder(t)
	stripe.refuseCall("POST /v1/invoices")
	tl := startTally(t, withClock(december2), withStripe(stripe.URL))
	events := []string{
		ev("billing", "s-start", "subscription.started", "tenant-s", nov(1, 0), `{"plan":"starter","term":"monthly","currency":"EUR"}`),
		credits("nosub-1", "tenant-nosub", nov(4, 0), "42.5", "search"),
		ev("licences", "ghost-release", "seat.released", "tenant-s", nov(9, 0), `{"user_id":"ghost","seat_type":"learner"}`),
	}
	events = append(events, seatEvents("nosub-l", "tenant-nosub", "learner", 3, nov(4, 0))...)
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("tenant-s", 2)
	tl.waitRows("tenant-nosub", 4)

	status, _, body := tl.do(http.MethodPost, "/v1/periods/2026-12/close", tl.finance, "", nil)
	if status != http.StatusConflict {
		t.Fatalf("closing an open period: %d %s, want 409", status, body)
	}

	status, _, body = tl.do(http.MethodPost, "/v1/periods/2026-11/close", tl.finance, "", nil)
	if status != http.StatusOK {
		t.Fatalf("close: %d %s", status, body)
	}
	invs := tl.invoices("tenant-s", "2026-11")
	if len(invs) != 1 || invs[0].Status != billing.StatusSendFailed || invs[0].StatusReason == "" {
		t.Fatalf("invoice after a Stripe 400: %+v", invs)
	}
	// Starter in EUR: base 49.00, nothing else.
	if invs[0].Total.String() != "49" || invs[0].Currency != "EUR" {
		t.Errorf("starter invoice %s %s, want 49.00 EUR", invs[0].Total, invs[0].Currency)
	}
	// The release of a seat never assigned changed nothing and is in the
	// dead-letter store with the reason.
	waitFor(t, time.Minute, "the unmatched release in dead_letters", func() bool {
		return tl.count("SELECT count() FROM dead_letters WHERE id = 'ghost-release' AND reason LIKE 'seat released without an assignment%'") == 1
	})
	attempts := stripe.count("POST /v1/invoices")
	tl.closePeriod("2026-11")
	if got := stripe.count("POST /v1/invoices"); got != attempts || attempts != 1 {
		t.Errorf("invoice creates: %d then %d; a 4xx is tried once and never again", attempts, got)
	}

	status, _, body = tl.do(http.MethodGet, "/v1/unbilled?period=2026-11", tl.finance, "", nil)
	if status != http.StatusOK {
		t.Fatalf("unbilled: %d %s", status, body)
	}
	var rep struct {
		Unbilled []billing.UnbilledItem `json:"unbilled"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range rep.Unbilled {
		if u.Tenant == "tenant-nosub" {
			got[u.Meter] = u.Quantity
		}
	}
	if got["ai_credits"] != "42.5" || got["seats:learner"] != "3" {
		t.Errorf("unbilled for tenant-nosub: %v, want 42.5 credits and 3 learners", got)
	}
	for _, u := range rep.Unbilled {
		if u.Tenant == "tenant-s" {
			t.Errorf("a subscribed tenant on the unbilled report: %+v", u)
		}
	}
}

// TestScheduledClose runs the scheduler with a clock past November's end
// plus the grace period: November gets closed without being asked.
func TestScheduledClose(t *testing.T) {
	// The scheduler closes only months that end after the installation:
	// record it in October, whatever today's date.
	dsn := newDatabase(t)
	backdateInstall(t, dsn, time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	tl := startTally(t, withDSN(dsn), withClock(december2), func(c *daemon.Config) { c.NoScheduler = false })
	waitFor(t, time.Minute, "the scheduled close of 2026-11", func() bool {
		return tl.count("SELECT count() FROM closed_periods WHERE period = '2026-11'") == 1
	})
}
