package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/internal/pricebooktest"
)

// TestLateAnnualSubscriptionEndToEnd: October 2026 is closed before the
// events of a Business annual subscription starting 1 October are stored.
// The November close issues its upfront invoice once, and bills
// October's usage as adjustments (SPEC §5 "No contract year is left
// unbilled").
func TestLateAnnualSubscriptionEndToEnd(t *testing.T) {
	tl := startTally(t, withClock(december2))
	if res := tl.closePeriod("2026-10"); len(res.Invoices) != 0 {
		t.Fatalf("October with nothing stored: %+v", res.Invoices)
	}
	events := []string{ev("billing", "late-biz-start", "subscription.started", "tenant-late-biz", oct(1, 0),
		`{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"100","author":"10"}}`)}
	events = append(events, seatEvents("late-biz-l", "tenant-late-biz", "learner", 120, oct(5, 0))...)
	events = append(events, seatEvents("late-biz-a", "tenant-late-biz", "author", 10, oct(5, 0))...)
	events = append(events, credits("late-biz-c", "tenant-late-biz", oct(6, 0), "30000", "co_author"))
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("tenant-late-biz", uint64(len(events)))

	tl.closePeriod("2026-11")
	nov := tl.invoices("tenant-late-biz", "2026-11")
	if len(nov) != 2 {
		t.Fatalf("November invoices: %+v; want an upfront and a monthly", nov)
	}
	up, monthly := byKind(nov)["upfront"], byKind(nov)["monthly"]
	// 12 × (499 + 100 × 6 + 10 × 20) = 15,588.00; 20 % annual discount
	// −3,117.60; total 12,470.40.
	if up.Subtotal.String() != "15588" || up.Discount.String() != "-3117.6" || up.Total.String() != "12470.4" {
		t.Errorf("upfront: %s %s %s; want 15588.00, -3117.60, 12470.40", up.Subtotal, up.Discount, up.Total)
	}
	if l := line(t, up, "base", "base:business"); l.Period != "2026-10-01T00:00:00Z/2027-10-01T00:00:00Z" {
		t.Errorf("upfront base line names %q, want the contract year", l.Period)
	}
	// November: 120 learners held, 100 committed → 20 × 6.00 = 120.00.
	// October, billed nothing when it closed: learners 20 × 6.00 = 120.00
	// and AI (30,000 − 25,000) × 0.015 = 75.00, as adjustments naming
	// October. Total 120 + 120 + 75 = 315.00.
	for _, l := range monthly.Lines {
		if l.Kind == "adjustment" && l.Period != "2026-10" {
			t.Errorf("adjustment %+v names %s, want 2026-10", l, l.Period)
		}
	}
	if monthly.Total.String() != "315" {
		t.Errorf("November monthly total %s, want 315.00 (120 + 120 + 75): %+v", monthly.Total, monthly.Lines)
	}

	again := tl.closePeriod("2026-11")
	if !again.AlreadyClosed || len(again.Invoices) != len(tl.invoices("", "2026-11")) {
		t.Fatalf("re-close: %+v", again)
	}
	if n := tl.count("SELECT count() FROM invoices FINAL WHERE tenant = 'tenant-late-biz' AND kind = 'upfront'"); n != 1 {
		t.Errorf("%d upfront invoices after a re-close, want 1", n)
	}
}

// TestCurrencyChangeIsDeadLetteredEndToEnd: a subscription.changed from
// EUR to USD is accepted (it is valid alone), left out of rating and
// dead-lettered with the reason currency_change at the close; the tenant
// is billed in EUR.
func TestCurrencyChangeIsDeadLetteredEndToEnd(t *testing.T) {
	tl := startTally(t, withClock(december2))
	events := []string{
		ev("billing", "eur-start", "subscription.started", "tenant-eur", nov(1, 0), `{"plan":"team","term":"monthly","currency":"EUR"}`),
		ev("billing", "eur-to-usd", "subscription.changed", "tenant-eur", nov(15, 0), `{"plan":"team","term":"monthly","currency":"USD"}`),
	}
	tl.mustAccept(2, 0, events...)
	tl.waitRows("tenant-eur", 2)

	res := tl.closePeriod("2026-11")
	if len(res.Failures) != 0 {
		t.Fatalf("failures %+v", res.Failures)
	}
	// Team in EUR for the whole of November: 199.00.
	invs := tl.invoices("tenant-eur", "2026-11")
	if len(invs) != 1 || invs[0].Currency != "EUR" || invs[0].Total.String() != "199" {
		t.Fatalf("November: %+v; want 199.00 EUR", invs)
	}
	const dead = "SELECT count() FROM dead_letters FINAL WHERE id = 'eur-to-usd' AND reason LIKE 'currency_change%'"
	waitFor(t, time.Minute, "the currency change in dead_letters", func() bool { return tl.count(dead) == 1 })
	tl.closePeriod("2026-11")
	if n := tl.count("SELECT count() FROM dead_letters WHERE id = 'eur-to-usd'"); n != 1 {
		t.Errorf("%d dead letters for the change after a re-close, want 1", n)
	}
}

// writeBookWithLegacy writes the default price book plus a plan "legacy"
// priced as team, and returns its path.
func writeBookWithLegacy(t *testing.T) string {
	t.Helper()
	data, _ := pricebooktest.WithPlanLike(t, "legacy", "team", "e2e-with-legacy")
	path := filepath.Join(t.TempDir(), "pricebook.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOneTenantDoesNotStopTheClose: Tally is restarted with a price book
// that dropped a plan a tenant is on. November's close bills the others,
// records the period closed and reports the tenant; once the plan is back,
// December's close bills its November as adjustments, once.
func TestOneTenantDoesNotStopTheClose(t *testing.T) {
	withLegacy := writeBookWithLegacy(t)
	dsn, dir := newDatabase(t), t.TempDir()
	tl := startTally(t, withClock(december2), withDSN(dsn), withDataDir(dir), func(c *daemon.Config) { c.PriceBook = withLegacy })
	tl.mustAccept(2, 0,
		ev("billing", "ok-start", "subscription.started", "tenant-ok", nov(1, 0), `{"plan":"team","term":"monthly","currency":"USD"}`),
		ev("billing", "legacy-start", "subscription.started", "tenant-legacy", nov(1, 0), `{"plan":"legacy","term":"monthly","currency":"USD"}`))
	tl.waitRows("tenant-ok", 1)
	tl.waitRows("tenant-legacy", 1)
	cfg := tl.cfg
	tl.stop()

	cfg.PriceBook = "" // the shipped book: no "legacy"
	tl = restartTally(t, cfg)
	status, _, body := tl.do(http.MethodPost, "/v1/periods/2026-11/close", tl.finance, "", nil)
	if status != http.StatusOK {
		t.Fatalf("close with a failing tenant: %d %s, want 200", status, body)
	}
	var res billing.CloseResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 1 || res.Failures[0].Tenant != "tenant-legacy" || res.Failures[0].Reason == "" {
		t.Fatalf("failures %+v, want tenant-legacy with its reason", res.Failures)
	}
	// Team, November: 199.00.
	if ok := tl.invoices("tenant-ok", "2026-11"); len(ok) != 1 || ok[0].Total.String() != "199" {
		t.Errorf("tenant-ok November: %+v, want 199.00", ok)
	}
	if n := tl.count("SELECT count() FROM closed_periods WHERE period = '2026-11'"); n != 1 {
		t.Errorf("November recorded closed %d times, want 1", n)
	}
	cfg = tl.cfg
	tl.stop()

	cfg.PriceBook = withLegacy // the plan is back
	january2 := time.Date(2027, 1, 2, 2, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return january2 }
	tl = restartTally(t, cfg)
	if again := tl.closePeriod("2026-11"); len(again.Failures) != 0 {
		t.Errorf("re-close of November after the fix: failures %+v", again.Failures)
	}
	tl.closePeriod("2026-12")
	dec := tl.invoices("tenant-legacy", "2026-12")
	// December's base 199.00 and November's base 199.00, billed nothing
	// at November's close, as an adjustment naming November: 398.00.
	if len(dec) != 1 || dec[0].Total.String() != "398" {
		t.Fatalf("tenant-legacy December: %+v, want 398.00", dec)
	}
	if l := line(t, dec[0], "adjustment", "base:legacy"); l.Period != "2026-11" || l.Amount.String() != "199" {
		t.Errorf("adjustment %+v, want 199.00 for 2026-11", l)
	}
	if n := tl.count("SELECT count() FROM invoices FINAL WHERE tenant = 'tenant-legacy' AND period = '2026-11'"); n != 0 {
		t.Errorf("%d November invoices for tenant-legacy; November is billed by December's adjustments only", n)
	}
}
