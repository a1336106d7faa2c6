package rating_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

// factsOf prints a line's item and facts, zero figures left out:
// "item plan/term meter [seat type] used=… included=… …".
func factsOf(l rating.Line) string {
	f := l.Facts
	s := fmt.Sprintf("%s %s/%s %s", l.Item, f.Plan, f.Term, f.Meter)
	if f.SeatType != "" {
		s += " " + string(f.SeatType)
	}
	for _, x := range []struct {
		name string
		v    fmt.Stringer
		zero bool
	}{
		{"used", f.Used, f.Used.IsZero()},
		{"included", f.Included, f.Included.IsZero()},
		{"committed", f.Committed, f.Committed.IsZero()},
		{"from_packs", f.FromPacks, f.FromPacks.IsZero()},
		{"pack_credits", f.PackCredits, f.PackCredits.IsZero()},
	} {
		if !x.zero {
			s += " " + x.name + "=" + x.v.String()
		}
	}
	return s
}

func checkFacts(t *testing.T, what string, lines []rating.Line, want ...string) {
	t.Helper()
	var got []string
	for _, l := range lines {
		got = append(got, factsOf(l))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s facts:\n got  %q\n want %q", what, got, want)
	}
}

// Every line carries, as values, what its description states: finance
// reads these, never the text.
func TestLinesCarryTheirFacts(t *testing.T) {
	// SPEC §3 worked example 1, Team monthly, November 2026: peak 15
	// learners and 2 authors, none included (team includes 0); 6,000 +
	// 250.5 = 6,250.5 credits consumed, 5,000 included, none from packs.
	team := []rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly)}
	u := rating.Usage{
		Seats:   join(seats("2026-11-02", schemas.SeatLearner, "l", 15), seats("2026-11-03", schemas.SeatAuthor, "a", 2)),
		Credits: []rating.CreditUsage{credits("2026-11-05", "6000"), credits("2026-11-20T10:00:00Z", "250.5")},
	}
	res, err := rating.RateMonth(book, "t-team", team, u, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	checkFacts(t, "team November", res.Invoice.Lines,
		"base:team team/monthly subscription",
		"seats:learner team/monthly seats learner used=15",
		"seats:author team/monthly seats author used=2",
		"ai_overage team/monthly ai_credits used=6250.5 included=5000",
	)

	// SPEC §3 worked example 2, Business annual with 100 learners and 10
	// authors committed: the upfront lines name the plan and term; the
	// November usage invoice has peak 120 learners, 100 committed (20
	// billed), 30,000 credits against 25,000 included.
	biz := []rating.SubscriptionChange{start("2026-11-01", "business", schemas.TermAnnual, committed(100, 10))}
	up, err := rating.RatePrepaid(book, "t-biz", biz, ts("2026-11-01"), ts("2026-12-01"))
	if err != nil || len(up) != 1 {
		t.Fatalf("upfront: %v %+v", err, up)
	}
	checkFacts(t, "business upfront", up[0].Lines,
		"base:business business/annual subscription",
		"committed_seats:learner business/annual subscription learner committed=100",
		"committed_seats:author business/annual subscription author committed=10",
		"discount:annual business/annual subscription",
	)
	res, err = rating.RateMonth(book, "t-biz", biz, rating.Usage{
		Seats:   seats("2026-11-02", schemas.SeatLearner, "l", 120),
		Credits: []rating.CreditUsage{credits("2026-11-10", "30000")},
	}, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	checkFacts(t, "business November", res.Invoice.Lines,
		"seats:learner business/annual seats learner used=120 committed=100",
		"ai_overage business/annual ai_credits used=30000 included=25000",
	)

	// An upgrade's credit lines name the replaced subscription: Team
	// monthly → Business annual is a new contract year (upfront, not an
	// upgrade); Business annual 100/10 → 150/10 on 2027-05-01 is an
	// upgrade, its new and credit lines both business/annual, the credit's
	// committed learners the old 100.
	upg := []rating.SubscriptionChange{start("2026-11-01", "business", schemas.TermAnnual, committed(100, 10)),
		chg("2027-05-01", "business", schemas.TermAnnual, committed(150, 10))}
	invs, err := rating.RatePrepaid(book, "t-up", upg, ts("2027-05-01"), ts("2027-06-01"))
	if err != nil || len(invs) != 1 || invs[0].Kind != rating.KindUpgrade {
		t.Fatalf("upgrade: %v %+v", err, invs)
	}
	checkFacts(t, "upgrade", invs[0].Lines,
		"base:business business/annual subscription",
		"committed_seats:learner business/annual subscription learner committed=150",
		"committed_seats:author business/annual subscription author committed=10",
		"discount:annual business/annual subscription",
		"credit:base:business business/annual subscription",
		"credit:committed_seats:learner business/annual subscription learner committed=100",
		"credit:committed_seats:author business/annual subscription author committed=10",
		"credit:discount:annual business/annual subscription",
	)

	// Packs: 6,500 consumed, 5,000 included; pack a (1,000, October) is
	// used up and b (1,000, November) gives 500: 1,500 from packs, no
	// overage line. b's line states its 1,000 credits.
	res, err = rating.RateMonth(book, "t-packs", []rating.SubscriptionChange{start("2026-10-01", "team", schemas.TermMonthly)},
		rating.Usage{
			Credits: []rating.CreditUsage{credits("2026-11-10", "6500")},
			Packs: []rating.PackPurchase{
				{At: ts("2026-11-03"), PackID: "b", Credits: d("1000"), Price: d("12.00"), Currency: cur("USD")},
				{At: ts("2026-10-20"), PackID: "a", Credits: d("1000"), Price: d("12.00"), Currency: cur("USD")},
			},
		}, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	checkFacts(t, "packs", res.Invoice.Lines,
		"base:team team/monthly subscription",
		"pack:b@2026-11-03T00:00:00Z team/monthly ai_packs pack_credits=1000",
	)
	// 8,000 consumed: 8,000 − 5,000 = 3,000 above the allowance; packs a
	// and b give 1,000 each (2,000 from packs), 1,000 over.
	res, err = rating.RateMonth(book, "t-packs", []rating.SubscriptionChange{start("2026-10-01", "team", schemas.TermMonthly)},
		rating.Usage{
			Credits: []rating.CreditUsage{credits("2026-11-10", "8000")},
			Packs: []rating.PackPurchase{
				{At: ts("2026-10-20"), PackID: "a", Credits: d("1000"), Price: d("12.00"), Currency: cur("USD")},
				{At: ts("2026-11-03"), PackID: "b", Credits: d("1000"), Price: d("12.00"), Currency: cur("USD")},
			},
		}, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	checkFacts(t, "packs and overage", res.Invoice.Lines,
		"base:team team/monthly subscription",
		"ai_overage team/monthly ai_credits used=8000 included=5000 from_packs=2000",
		"pack:b@2026-11-03T00:00:00Z team/monthly ai_packs pack_credits=1000",
	)
}

// An adjustment carries the facts of the line it adjusts: 250.5 late
// credits on the team's closed November make the overage line 1,250.5
// instead of 1,000 (6,250.5 consumed).
func TestAdjustmentsCarryTheAdjustedFacts(t *testing.T) {
	team := []rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly)}
	closed, err := rating.RateMonth(book, "t", team, rating.Usage{Credits: []rating.CreditUsage{credits("2026-11-05", "6000")}}, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := rating.RateMonth(book, "t", team, rating.Usage{Credits: []rating.CreditUsage{
		credits("2026-11-05", "6000"), credits("2026-11-20", "250.5")}}, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	adj, err := rating.Adjustments(closed.Invoice, nil, now.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	// 1,250.5 × 0.018 = 22.509 → 22.51, was 1,000 × 0.018 = 18.00: +4.51.
	if len(adj) != 1 || adj[0].Amount.String() != "4.51" || adj[0].Adjusts != rating.LineAIOverage {
		t.Fatalf("adjustments %+v", adj)
	}
	checkFacts(t, "adjustment", adj, "ai_overage team/monthly ai_credits used=6250.5 included=5000")
}
