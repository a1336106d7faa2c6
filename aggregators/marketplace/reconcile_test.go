package marketplace_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
)

func upTo(l *marketplace.Ledger, now time.Time) []marketplace.Entry {
	var out []marketplace.Entry
	for _, e := range l.Entries {
		if !e.At.After(now) {
			out = append(out, e)
		}
	}
	return out
}

func TestReconcileLateRefund(t *testing.T) {
	in := marketplace.Input{Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02T10:00:00Z", usd, "59.00", "9.00")}}
	now := ts("2026-11-20")
	stored := upTo(derive(t, in), now) // sale, tax, fee, share 42.50, release 42.50

	// the refund of 29.50, dated during the hold, arrives late
	in.Refunds = []marketplace.Refund{refund("p", "o1", "r1", "2026-11-05", usd, "29.50")}
	derived := upTo(derive(t, in), now)
	out := marketplace.Reconcile(stored, slices.Clone(derived))
	var got []string
	for _, e := range out {
		s := string(e.Kind) + " " + money.FormatDecimal(e.Amount)
		if e.Revises != "" {
			s += " revises " + e.Revises
		}
		got = append(got, s)
	}
	var release string
	for _, e := range stored {
		if e.Kind == marketplace.EntryHoldRelease {
			release = e.ID
		}
	}
	sameStrings(t, "appended", got, []string{
		"refund -29.50", "tax_refund -4.50", "fee_reversal -3.75", "share_reversal -21.25",
		"hold_release -21.25 revises " + release,
	})
	if again := marketplace.Reconcile(append(stored, out...), derived); len(again) != 0 {
		t.Errorf("second reconcile appended %v", again)
	}
}

// For any late arrival of sales and refunds, stored rows plus Reconcile's
// corrections sum, per entry id, to the new derivation, and give the
// engine's balances.
func TestReconcileProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t, rapid.Bool().Draw(t, "ties"))
		full := w.input()
		var early marketplace.Input
		for _, s := range full.Sales {
			if rapid.IntRange(0, 3).Draw(t, "saleLate") > 0 {
				early.Sales = append(early.Sales, s)
			}
		}
		for _, r := range full.Refunds {
			if rapid.IntRange(0, 3).Draw(t, "refundLate") > 0 {
				early.Refunds = append(early.Refunds, r)
			}
		}
		now1 := at(rapid.Int64Range(0, 60*24*3600).Draw(t, "now1"))
		now2 := now1.Add(time.Duration(rapid.Int64Range(0, 30*24*3600).Draw(t, "later")) * time.Second)
		l1, err := marketplace.Derive(terms, early)
		if err != nil {
			t.Fatal(err)
		}
		stored := upTo(l1, now1)
		l2, err := marketplace.Derive(terms, full)
		if err != nil {
			t.Fatal(err)
		}
		derived := upTo(l2, now2)
		rows := append(stored, marketplace.Reconcile(stored, slices.Clone(derived))...)

		sums := map[string]decimal.Decimal{}
		ids := map[string]bool{}
		for _, e := range rows {
			if ids[e.ID] {
				t.Fatalf("duplicate row id %s", e.ID)
			}
			ids[e.ID] = true
			id := e.ID
			if e.Revises != "" {
				id = e.Revises
			}
			sums[id] = sums[id].Add(e.Amount)
		}
		want := map[string]decimal.Decimal{}
		for _, e := range derived {
			want[e.ID] = e.Amount
		}
		for id, s := range sums {
			if !s.Equal(want[id]) {
				t.Fatalf("entry %s: rows sum to %s, derived %s", id, s, want[id])
			}
		}
		for id, a := range want {
			if !sums[id].Equal(a) {
				t.Fatalf("entry %s: rows sum to %s, derived %s", id, sums[id], a)
			}
		}
		if again := marketplace.Reconcile(rows, derived); len(again) != 0 {
			t.Fatalf("reconciling twice appended %v", again)
		}
		// the ledger rows alone give the engine's balances at now2
		for _, b := range l2.Balances(now2) {
			var held, avail decimal.Decimal
			for _, e := range rows {
				if e.Provider == b.Provider && e.Currency == b.Currency {
					held, avail = held.Add(e.HeldDelta()), avail.Add(e.AvailableDelta())
				}
			}
			if !held.Equal(b.Held) || !avail.Equal(b.Available) {
				t.Fatalf("%s %s: rows give %s/%s, engine %s/%s", b.Provider, b.Currency.Code, held, avail, b.Held, b.Available)
			}
		}
	})
}
