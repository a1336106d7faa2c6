package rating_test

import (
	"errors"
	"testing"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
)

// Late events for a closed period become adjustment lines on the next
// invoice, naming the original period; the finalized invoice is unchanged.
func TestLateEventsBecomeAdjustments(t *testing.T) {
	subs := []rating.SubscriptionChange{start("2026-10-01", "team", monthly)}
	oct, nov := per("2026-10"), per("2026-11")

	// October closes with 5,000 credits: base only, 199.00.
	known := rating.Usage{Credits: []rating.CreditUsage{credits("2026-10-05", "5000")}}
	closed, err := rating.RateMonth(book, "t", subs, known, oct)
	if err != nil {
		t.Fatal(err)
	}
	checkInvoice(t, closed.Invoice, "199.00", wantLine{"base:team", "1", "199.00", "199.00", ""})
	finalized := closed.Invoice
	finalizedTotal := money.FormatDecimal(finalized.Total)

	// Late: 1,000 credits on Oct 20 and 3 learners from Oct 10 arrive in
	// November. October re-rated: 3 × 4.00 = 12.00; 1,000 × 0.018 = 18.00.
	late := known
	late.Credits = append(append([]rating.CreditUsage(nil), known.Credits...), credits("2026-10-20", "1000"))
	late.Seats = seats("2026-10-10", learner, "l", 3)
	rerated, err := rating.RateMonth(book, "t", subs, late, oct)
	if err != nil {
		t.Fatal(err)
	}
	adj, err := rating.Adjustments(finalized, nil, rerated.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"seats:learner qty=1 price=12.00 amount=12.00 flags=",
		"ai_overage qty=1 price=18.00 amount=18.00 flags=",
	}
	checkAdjustments(t, adj, "2026-10", want, rating.LineSeats, rating.LineAIOverage)

	// November: 199.00 + the 3 learners still held (carried over) 3 ×
	// 4.00 = 12.00 + 30.00 of October adjustments = 241.00.
	novRes, err := rating.RateMonth(book, "t", subs, late, nov)
	if err != nil {
		t.Fatal(err)
	}
	novInv := novRes.Invoice
	novInv.Append(adj...)
	if money.FormatDecimal(novInv.Total) != "241.00" || money.FormatDecimal(novInv.Subtotal) != "241.00" {
		t.Fatalf("November total %s; want 241.00", novInv.Total)
	}
	if money.FormatDecimal(finalized.Total) != finalizedTotal || len(finalized.Lines) != 1 {
		t.Fatalf("the finalized invoice changed")
	}

	// Another 500 credits for October arrive in December: overage now
	// 1,500 × 0.018 = 27.00; 18.00 was already adjusted: +9.00.
	later := late
	later.Credits = append(append([]rating.CreditUsage(nil), late.Credits...), credits("2026-10-28", "500"))
	rerated2, err := rating.RateMonth(book, "t", subs, later, oct)
	if err != nil {
		t.Fatal(err)
	}
	adj2, err := rating.Adjustments(finalized, novInv.Lines, rerated2.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	checkAdjustments(t, adj2, "2026-10", []string{"ai_overage qty=1 price=9.00 amount=9.00 flags="}, rating.LineAIOverage)

	// Re-rating with nothing new adjusts nothing.
	again, err := rating.Adjustments(finalized, append(novInv.Lines, adj2...), rerated2.Invoice)
	if err != nil || len(again) != 0 {
		t.Fatalf("nothing new: %v, %v", again, err)
	}

	// A late cancellation on Oct 16 (15 of 31 days): base 199 × 15/31 =
	// 96.290… → 96.29: −102.71 on the base. The credits of Oct 20 and 28
	// are now after the cancellation, hence unbilled: 5,000 ≤ 5,000, the
	// 27.00 of overage billed so far (18.00 + 9.00) is given back.
	canceled := append(append([]rating.SubscriptionChange(nil), subs...), cancel("2026-10-16"))
	rerated3, err := rating.RateMonth(book, "t", canceled, later, oct)
	if err != nil {
		t.Fatal(err)
	}
	adj3, err := rating.Adjustments(finalized, append(novInv.Lines, adj2...), rerated3.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	checkAdjustments(t, adj3, "2026-10", []string{
		"base:team qty=1 price=-102.71 amount=-102.71 flags=",
		"ai_overage qty=1 price=-27.00 amount=-27.00 flags=",
	}, rating.LineBase, rating.LineAIOverage)
	if !rerated3.UnbilledCredits.Equal(d("1500")) {
		t.Errorf("unbilled %s; want 1500", rerated3.UnbilledCredits)
	}

	// Re-rating with another price book version is refused.
	other := pricebook.Default()
	other.Version = "other"
	rr, err := rating.RateMonth(other, "t", subs, later, oct)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rating.Adjustments(finalized, nil, rr.Invoice); !errors.Is(err, rating.ErrMismatch) {
		t.Fatalf("other book: %v; want ErrMismatch", err)
	}
}

func checkAdjustments(t *testing.T, adj []rating.Line, period string, want []string, kinds ...rating.LineKind) {
	t.Helper()
	if len(adj) != len(want) {
		t.Fatalf("%d adjustments; want %d: %+v", len(adj), len(want), adj)
	}
	for i, l := range adj {
		if lineText(l) != want[i] {
			t.Errorf("adjustment %d: %s; want %s", i, lineText(l), want[i])
		}
		if l.Kind != rating.LineAdjustment || l.Period != period || l.Adjusts != kinds[i] {
			t.Errorf("adjustment %d: kind %s period %s adjusts %s", i, l.Kind, l.Period, l.Adjusts)
		}
		if !containsStr(l.Description, period) {
			t.Errorf("description %q does not name %s", l.Description, period)
		}
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
