package rating_test

import (
	"testing"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// SPEC §3 worked example 1: Team, monthly, November 2026.
func TestSpecExampleTeamMonthly(t *testing.T) {
	subs := []rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly)}
	u := rating.Usage{
		Seats: join(
			seats("2026-11-02", schemas.SeatLearner, "l", 15),
			seats("2026-11-03", schemas.SeatAuthor, "a", 2),
		),
		Credits: []rating.CreditUsage{credits("2026-11-05", "6000"), credits("2026-11-20T10:00:00Z", "250.5")},
	}
	res, err := rating.RateMonth(book, "t-team", subs, u, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	inv := res.Invoice
	if inv.Kind != rating.KindMonthly || inv.Period != "2026-11" || inv.Currency.Code != "USD" || inv.Tenant != "t-team" {
		t.Fatalf("invoice header %+v", inv)
	}
	// base 199.00; learners 15 × 4.00 = 60.00; authors 2 × 15.00 = 30.00;
	// AI overage 1,250.5 × 0.018 = 22.509 → 22.51. Total 311.51.
	checkInvoice(t, inv, "311.51",
		wantLine{"base:team", "1", "199.00", "199.00", ""},
		wantLine{"seats:learner", "15", "4.00", "60.00", ""},
		wantLine{"seats:author", "2", "15.00", "30.00", ""},
		wantLine{"ai_overage", "1250.5", "0.018", "22.51", ""},
	)
	if money.FormatDecimal(inv.Discount) != "0.00" || money.FormatDecimal(inv.Subtotal) != "311.51" {
		t.Errorf("subtotal %s discount %s", inv.Subtotal, inv.Discount)
	}
}

// SPEC §3 worked example 2: Business, annual, from 2026-11-01, committed
// 100 learners and 10 authors.
func TestSpecExampleBusinessAnnual(t *testing.T) {
	subs := []rating.SubscriptionChange{start("2026-11-01", "business", schemas.TermAnnual, committed(100, 10))}
	up, err := rating.RatePrepaid(book, "t-biz", subs, ts("2026-11-01"), ts("2026-12-01"))
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 1 || up[0].Kind != rating.KindUpfront || up[0].Period != "2026-11" || !up[0].IssuedAt.Equal(ts("2026-11-01")) {
		t.Fatalf("prepaid invoices %+v", up)
	}
	// 12 × (499 + 100 × 6 + 10 × 20) = 12 × 1,299 = 15,588.00:
	// base 12 × 499 = 5,988.00; learners 1,200 × 6 = 7,200.00; authors
	// 120 × 20 = 2,400.00. Discount 20 % = −3,117.60. Total 12,470.40.
	checkInvoice(t, up[0], "12470.40",
		wantLine{"base:business", "12", "499.00", "5988.00", ""},
		wantLine{"committed_seats:learner", "1200", "6.00", "7200.00", ""},
		wantLine{"committed_seats:author", "120", "20.00", "2400.00", ""},
		wantLine{"discount:annual", "15588.00", "-0.20", "-3117.60", ""},
	)
	if money.FormatDecimal(up[0].Subtotal) != "15588.00" || money.FormatDecimal(up[0].Discount) != "-3117.60" {
		t.Errorf("subtotal %s discount %s", up[0].Subtotal, up[0].Discount)
	}
	wantPeriod := "2026-11-01T00:00:00Z/2027-11-01T00:00:00Z"
	for _, l := range up[0].Lines {
		if l.Period != wantPeriod {
			t.Errorf("line period %q; want %q", l.Period, wantPeriod)
		}
	}

	// November usage: peak 120 learners → 20 × 6.00 = 120.00; 30,000
	// credits → 5,000 × 0.015 = 75.00; total 195.00.
	u := rating.Usage{
		Seats: join(
			seats("2026-11-01", schemas.SeatLearner, "l", 120),
			release("2026-11-20", schemas.SeatLearner, "l", 30),
			seats("2026-11-01", schemas.SeatAuthor, "a", 8),
		),
		Credits: []rating.CreditUsage{credits("2026-11-10", "30000")},
	}
	res, err := rating.RateMonth(book, "t-biz", subs, u, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	checkInvoice(t, res.Invoice, "195.00",
		wantLine{"seats:learner", "20", "6.00", "120.00", ""},
		wantLine{"ai_overage", "5000", "0.015", "75.00", ""},
	)
	// The next contract year is billed on 2027-11-01, not before.
	up, err = rating.RatePrepaid(book, "t-biz", subs, ts("2026-12-01"), ts("2027-11-01"))
	if err != nil || len(up) != 0 {
		t.Fatalf("no invoice expected before the next contract year: %v %v", up, err)
	}
	up, err = rating.RatePrepaid(book, "t-biz", subs, ts("2027-11-01"), ts("2027-12-01"))
	if err != nil || len(up) != 1 || up[0].Lines[0].Period != "2027-11-01T00:00:00Z/2028-11-01T00:00:00Z" {
		t.Fatalf("second contract year: %+v %v", up, err)
	}
	checkInvoice(t, up[0], "12470.40", wantLine{"base:business", "12", "499.00", "5988.00", ""},
		wantLine{"committed_seats:learner", "1200", "6.00", "7200.00", ""},
		wantLine{"committed_seats:author", "120", "20.00", "2400.00", ""},
		wantLine{"discount:annual", "15588.00", "-0.20", "-3117.60", ""})
}
