package rating_test

import (
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

func TestAdmitChanges(t *testing.T) {
	type refusal struct {
		index int
		err   error
	}
	for _, tc := range []struct {
		name    string
		changes []rating.SubscriptionChange
		want    []refusal
	}{
		{"a change to another currency is refused",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly, in("EUR")), chg("2026-11-15", "team", schemas.TermMonthly)},
			[]refusal{{1, rating.ErrCurrencyChange}}},
		{"a start while subscribed in another currency is refused",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly, in("EUR")), start("2026-11-15", "team", schemas.TermMonthly)},
			[]refusal{{1, rating.ErrCurrencyChange}}},
		{"a cancel and a new start may change currency",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly, in("EUR")), cancel("2026-11-30"), start("2026-12-01", "team", schemas.TermMonthly)},
			nil},
		{"a change without a running subscription acts as a start",
			[]rating.SubscriptionChange{start("2026-10-01", "team", schemas.TermMonthly, in("EUR")), cancel("2026-10-20"), chg("2026-11-01", "team", schemas.TermMonthly)},
			nil},
		{"a refused change is as if never sent: the next is judged against the running one",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly, in("EUR")), chg("2026-11-10", "business", schemas.TermMonthly),
				chg("2026-11-20", "starter", schemas.TermMonthly, in("EUR"))},
			[]refusal{{1, rating.ErrCurrencyChange}}},
		{"a late start conflicting with a change stored before it is the one refused (the first stored wins)",
			[]rating.SubscriptionChange{chg("2026-11-15", "team", schemas.TermMonthly), start("2026-11-01", "team", schemas.TermMonthly, in("JPY"))},
			[]refusal{{1, rating.ErrCurrencyChange}}},
		{"a late change is judged against the subscription running at its time",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly, in("EUR")), cancel("2026-11-20"),
				chg("2026-11-10", "team", schemas.TermMonthly), chg("2026-11-25", "team", schemas.TermMonthly)},
			[]refusal{{2, rating.ErrCurrencyChange}}},
		{"a prepaid change in the same currency stays",
			[]rating.SubscriptionChange{start("2026-11-01", "business", schemas.TermAnnual, committed(100, 10)), chg("2027-02-01", "business", schemas.TermAnnual, committed(150, 10))},
			nil},
		{"different changes at one instant: the one given first wins",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly), start("2026-11-01", "starter", schemas.TermMonthly)},
			[]refusal{{1, rating.ErrAmbiguousChanges}}},
		{"the other order, the other winner",
			[]rating.SubscriptionChange{start("2026-11-01", "starter", schemas.TermMonthly), start("2026-11-01", "team", schemas.TermMonthly)},
			[]refusal{{1, rating.ErrAmbiguousChanges}}},
		{"identical changes at one instant stay (rating counts them once)",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly), chg("2026-11-01", "team", schemas.TermMonthly)},
			nil},
		{"a cancel and a start at one instant are ambiguous",
			[]rating.SubscriptionChange{start("2026-10-01", "team", schemas.TermMonthly, in("EUR")), cancel("2026-11-01"), start("2026-11-01", "team", schemas.TermMonthly)},
			[]refusal{{2, rating.ErrAmbiguousChanges}}},
		{"a plan the book lacks is kept for rating to report",
			[]rating.SubscriptionChange{start("2026-11-01", "team", schemas.TermMonthly), start("2026-11-01", "no-such-plan", schemas.TermMonthly)},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, refused := rating.AdmitChanges(book, tc.changes)
			if len(refused) != len(tc.want) {
				t.Fatalf("refused %v, want %v", refused, tc.want)
			}
			for i, w := range tc.want {
				if refused[i].Index != w.index || !errors.Is(refused[i].Err, w.err) {
					t.Errorf("refusal %d: %d %v, want %d %v", i, refused[i].Index, refused[i].Err, w.index, w.err)
				}
			}
			if len(kept)+len(refused) != len(tc.changes) {
				t.Errorf("kept %d + refused %d of %d changes", len(kept), len(refused), len(tc.changes))
			}
		})
	}
}

// TestAdmittedChangesAlwaysRate: whatever the subscription history —
// starts, changes and cancels in any currency, several at one instant —
// the admitted changes always build a timeline: no currency change while
// subscribed, no ambiguous instant. (Two currencies in one month after a
// cancel is left to RateMonth, which reports it: docs/billing.md.)
func TestAdmittedChangesAlwaysRate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		plans := []string{"starter", "team", "business"}
		currencies := []string{"USD", "EUR"}
		base := ts("2026-11-01")
		n := rapid.IntRange(1, 8).Draw(t, "n")
		var changes []rating.SubscriptionChange
		for range n {
			at := base.AddDate(0, 0, rapid.IntRange(0, 27).Draw(t, "day"))
			kind := rapid.SampledFrom([]rating.ChangeKind{rating.Started, rating.Changed, rating.Canceled}).Draw(t, "kind")
			c := rating.SubscriptionChange{At: at, Kind: kind}
			if kind != rating.Canceled {
				c.Subscription = schemas.Subscription{Plan: rapid.SampledFrom(plans).Draw(t, "plan"), Term: schemas.TermMonthly,
					Currency: cur(rapid.SampledFrom(currencies).Draw(t, "currency"))}
			}
			changes = append(changes, c)
		}
		kept, refused := rating.AdmitChanges(book, changes)
		if len(kept)+len(refused) != len(changes) {
			t.Fatalf("kept %d + refused %d of %d", len(kept), len(refused), len(changes))
		}
		// Segments never fail with a currency change or an ambiguity:
		// within the period only one currency runs at a time, and a new
		// currency after a cancel in the same month is the one case left
		// (RateMonth reports it), so only Segments is checked here.
		if _, err := rating.Segments(book, kept, base, base.AddDate(0, 1, 0)); err != nil {
			t.Fatalf("admitted changes do not rate: %v\nchanges %+v\nkept %+v", err, changes, kept)
		}
	})
}
