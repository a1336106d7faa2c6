package billing

import (
	"encoding/json"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/tally-billing/tally/internal/pricebooktest"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// bookWithLegacy is the default price book plus a plan "legacy" priced as
// team: a plan some tenants were sold and a later book dropped.
func bookWithLegacy(t *testing.T) *pricebook.Book {
	t.Helper()
	_, b := pricebooktest.WithPlanLike(t, "legacy", "team", "test-with-legacy")
	return b
}

// TestCloseDoesNotWaitOnOneTenant: a tenant that cannot be rated (its plan
// is not in the running price book) is reported, the period closes and
// the others are billed; once it can be rated, the next period's close
// bills its failed month as adjustments, exactly once.
func TestCloseDoesNotWaitOnOneTenant(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	f.events.addSub("tenant-ok", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("team", schemas.TermMonthly, "USD", nil))
	f.events.addSub("tenant-bad", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("legacy", schemas.TermMonthly, "USD", nil))

	res := f.close("2026-11")
	if len(res.Failures) != 1 || res.Failures[0].Tenant != "tenant-bad" || !strings.Contains(res.Failures[0].Reason, "legacy") {
		t.Fatalf("failures %+v, want tenant-bad with a reason naming its plan", res.Failures)
	}
	if res.AlreadyClosed || len(res.Invoices) != 1 || res.Invoices[0].Tenant != "tenant-ok" {
		t.Fatalf("close: already %v, invoices %+v; want tenant-ok's invoice", res.AlreadyClosed, res.Invoices)
	}
	// Team, whole November: base 199.00; dry run, so not_sent.
	if inv := res.Invoices[0]; inv.Total.String() != "199" || inv.Status != StatusNotSent {
		t.Errorf("tenant-ok November: %s %s, want 199.00 not_sent", inv.Total, inv.Status)
	}
	if f.store.closed["2026-11"].IsZero() {
		t.Fatal("November not recorded closed")
	}
	var m dto.Metric
	if err := f.svc.cfg.Metrics.TenantFailures.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		got := m.GetCounter().GetValue()
		t.Errorf("tenant failures counted %v, want 1", got)
	}
	b, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(b), `"failures":[{"tenant":"tenant-bad","reason":`) {
		t.Errorf("close JSON %s (%v): want the failures listed", b, err)
	}

	// A re-close stores nothing and reports the tenant still failing.
	saved := f.store.saved
	again := f.close("2026-11")
	if !again.AlreadyClosed || len(again.Failures) != 1 || f.store.saved != saved {
		t.Fatalf("re-close: already %v, failures %+v, %d invoices saved", again.AlreadyClosed, again.Failures, f.store.saved-saved)
	}

	// The operator puts the plan back. A re-close of November now reports
	// no failure and still stores nothing: the month is billed by the next
	// period's close.
	f.restart(bookWithLegacy(t))
	again = f.close("2026-11")
	if len(again.Failures) != 0 || f.store.saved != saved || len(f.invoices("tenant-bad", "")) != 0 {
		t.Fatalf("re-close after the fix: failures %+v, %d invoices saved", again.Failures, f.store.saved-saved)
	}
	if b, _ := json.Marshal(again); !strings.Contains(string(b), `"failures":[]`) {
		t.Errorf("close JSON without failures: %s; want an empty list", b)
	}

	f.close("2026-12")
	dec := f.invoices("tenant-bad", "2026-12")
	if len(dec) != 1 {
		t.Fatalf("tenant-bad December: %+v", dec)
	}
	// December's own base 199.00, and November's base 199.00 (billed
	// nothing so far) as an adjustment naming November: 398.00.
	if l := findLine(t, dec[0], "adjustment", "base:legacy", "2026-11"); l.Amount.String() != "199" {
		t.Errorf("November adjustment %s, want 199.00", l.Amount)
	}
	if dec[0].Total.String() != "398" {
		t.Errorf("tenant-bad December total %s, want 398.00 (199 + 199)", dec[0].Total)
	}

	// January bills January only: November is billed once.
	f.close("2027-01")
	billedNov := 0
	for _, inv := range f.invoices("tenant-bad", "") {
		for _, l := range inv.Lines {
			if l.Period == "2026-11" {
				billedNov++
			}
		}
	}
	jan := f.invoices("tenant-bad", "2027-01")
	if billedNov != 1 || len(jan) != 1 || jan[0].Total.String() != "199" {
		t.Errorf("after January: %d lines bill November (want 1), January %+v (want 199.00)", billedNov, jan)
	}
}
