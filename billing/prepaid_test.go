package billing

import (
	"fmt"
	"testing"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// businessAnnualOctober stores SPEC §3's Business annual example moved to
// October 2026 for tenant: committed 100 learners and 10 authors, 120
// learners and 10 authors from 5 October, 30,000 credits on 6 October.
func businessAnnualOctober(f *fixture, tenant string) {
	f.events.addSub(tenant, schemas.TypeSubscriptionStarted, at(2026, 10, 1, 0), sub("business", schemas.TermAnnual, "USD",
		map[schemas.SeatType]int64{schemas.SeatLearner: 100, schemas.SeatAuthor: 10}))
	for i := range 120 {
		f.events.addSeat(tenant, at(2026, 10, 5, 0), fmt.Sprintf("l%d", i), "learner", true)
	}
	for i := range 10 {
		f.events.addSeat(tenant, at(2026, 10, 5, 0), fmt.Sprintf("a%d", i), "author", true)
	}
	f.events.addCredits(tenant, at(2026, 10, 6, 0), "30000")
}

// TestLateAnnualSubscriptionGetsItsUpfrontOnce: October is closed before
// the Business annual subscription starting 1 October is stored. The
// November close issues its upfront invoice (period 2026-11, issued at
// November's end, lines naming the contract year), bills October's usage
// as adjustments, and no later close issues it again.
func TestLateAnnualSubscriptionGetsItsUpfrontOnce(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	if res := f.close("2026-10"); len(res.Invoices) != 0 {
		t.Fatalf("October with nothing stored: %+v", res.Invoices)
	}
	businessAnnualOctober(f, "tenant-biz")

	f.close("2026-11")
	nov := f.invoices("tenant-biz", "2026-11")
	ups, months := ofKind(nov, KindUpfront), ofKind(nov, KindMonthly)
	if len(ups) != 1 || len(months) != 1 {
		t.Fatalf("November invoices: %+v; want one upfront and one monthly", nov)
	}
	up := ups[0]
	// 12 × (499 + 100 × 6 + 10 × 20) = 12 × 1,299 = 15,588.00; 20 % off:
	// −3,117.60; total 12,470.40.
	if up.Subtotal.String() != "15588" || up.Discount.String() != "-3117.6" || up.Total.String() != "12470.4" {
		t.Errorf("upfront: %s %s %s; want 15588.00 −3117.60 12470.40", up.Subtotal, up.Discount, up.Total)
	}
	year := "2026-10-01T00:00:00Z/2027-10-01T00:00:00Z"
	findLine(t, up, "base", "base:business", year)
	if !up.IssuedAt.Equal(at(2026, 12, 1, 0)) {
		t.Errorf("late upfront issued at %s, want November's end", up.IssuedAt)
	}
	if want := InvoiceID("tenant-biz", "2026-10", KindUpfront, "2026-10-01T00:00:00Z"); up.ID != want {
		t.Errorf("upfront id %s, want the contract year's own id %s", up.ID, want)
	}
	// November: 120 learners still held, 100 committed: 20 × 6.00 =
	// 120.00; authors 10 − 10 committed = 0; no credits. October, billed
	// nothing: learners 20 × 6.00 = 120.00 and AI (30,000 − 25,000) ×
	// 0.015 = 75.00. Total 315.00.
	m := months[0]
	if l := findLine(t, m, "seats", "seats:learner", "2026-11"); l.Amount.String() != "120" {
		t.Errorf("November learners %s, want 120.00", l.Amount)
	}
	if l := findLine(t, m, "adjustment", "seats:learner", "2026-10"); l.Amount.String() != "120" {
		t.Errorf("October learners adjustment %s, want 120.00", l.Amount)
	}
	if l := findLine(t, m, "adjustment", "ai_overage", "2026-10"); l.Amount.String() != "75" {
		t.Errorf("October AI adjustment %s, want 75.00", l.Amount)
	}
	if m.Total.String() != "315" {
		t.Errorf("November monthly total %s, want 315.00", m.Total)
	}

	saved := f.store.saved
	if res := f.close("2026-11"); !res.AlreadyClosed || f.store.saved != saved {
		t.Fatalf("re-close stored %d invoices", f.store.saved-saved)
	}
	f.close("2026-12")
	f.close("2027-01")
	if ups := ofKind(f.invoices("tenant-biz", ""), KindUpfront); len(ups) != 1 {
		t.Errorf("%d upfront invoices after three more closes, want 1: %+v", len(ups), ups)
	}
	// December: 20 learners above committed, 120.00, nothing else.
	if dec := f.invoices("tenant-biz", "2026-12"); len(dec) != 1 || dec[0].Total.String() != "120" {
		t.Errorf("December: %+v, want one monthly invoice of 120.00", dec)
	}
}

// TestUpfrontOfAMonthNeverClosed: a contract year in a month Tally never
// closed (before its time) is not issued by a later close; closing that
// month issues it, on time, once.
func TestUpfrontOfAMonthNeverClosed(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	businessAnnualOctober(f, "tenant-biz")
	f.close("2026-11")
	if ups := ofKind(f.invoices("tenant-biz", ""), KindUpfront); len(ups) != 0 {
		t.Fatalf("November's close issued October's upfront while October is open: %+v", ups)
	}
	f.close("2026-10")
	f.close("2026-12")
	ups := ofKind(f.invoices("tenant-biz", ""), KindUpfront)
	if len(ups) != 1 || ups[0].Period != "2026-10" || !ups[0].IssuedAt.Equal(at(2026, 10, 1, 0)) || ups[0].Total.String() != "12470.4" {
		t.Errorf("upfronts %+v; want one of 12,470.40 in 2026-10 issued at the contract year's start", ups)
	}
}
