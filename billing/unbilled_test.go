package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// The unbilled report of November 2026, one tenant per branch.
func TestUnbilledReport(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	usd, _ := money.LookupCurrency("USD")
	// Billed in full (SPEC §3's Team November): nothing unbilled.
	teamNovember(f, "acme")
	// No subscription: its credits, its peak seats per type and its pack
	// are listed as they are.
	f.events.addCredits("free", at(2026, 11, 10, 0), "1500")
	for i := range 3 {
		f.events.addSeat("free", at(2026, 11, 2, 0), fmt.Sprintf("l%d", i), "learner", true)
	}
	f.events.addSeat("free", at(2026, 11, 2, 0), "a0", "author", true)
	f.events.addPack("free", at(2026, 11, 5, 0), &schemas.AIPackPurchased{PackID: "p1", Credits: decimal.NewFromInt(1000),
		Currency: usd, Price: decimal.RequireFromString("12.50")})
	// Subscribed from 16 November: the 2,000 credits of the 10th were
	// consumed outside subscribed time (Team's 5,000 allowance does not
	// cover them).
	f.events.addCredits("late", at(2026, 11, 10, 0), "2000")
	f.events.addSub("late", schemas.TypeSubscriptionStarted, at(2026, 11, 16, 0), sub("team", schemas.TermMonthly, "USD", nil))
	// Cannot be rated: a plan the book lacks, a pack that is not one.
	f.events.addSub("bad", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("legacy", schemas.TermMonthly, "USD", nil))
	f.events.addSub("odd", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("team", schemas.TermMonthly, "USD", nil))
	f.events.addPack("odd", at(2026, 11, 5, 0), &schemas.SubscriptionCanceled{})

	items, err := f.svc.Unbilled(context.Background(), Period{Year: 2026, Month: 11})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		if it.Period != "2026-11" {
			t.Errorf("item of period %s", it.Period)
		}
		reason := it.Reason
		if strings.HasPrefix(reason, "cannot be rated") {
			reason = "cannot be rated"
		}
		got = append(got, it.Tenant+" "+it.Meter+" "+it.Quantity+" ("+reason+")")
	}
	want := []string{
		"bad all  (cannot be rated)",
		"odd all  (cannot be rated)",
		"free ai_credits 1500 (no subscription in the period)",
		"free seats:learner 3 (no subscription in the period)",
		"free seats:author 1 (no subscription in the period)",
		"free ai_pack:p1 12.5 USD (no subscription in the period)",
		"late ai_credits 2000 (consumed outside subscribed time)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unbilled:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(items[0].Reason, "legacy") || !strings.Contains(items[1].Reason, "not a pack purchase") {
		t.Errorf("reasons %q, %q: want the plan and the pack named", items[0].Reason, items[1].Reason)
	}

	f.events.fail["Activity"] = errors.New("boom")
	if _, err := f.svc.Unbilled(context.Background(), Period{Year: 2026, Month: 11}); err == nil {
		t.Error("report without its events")
	}
}
