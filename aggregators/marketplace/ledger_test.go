package marketplace_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
)

// Entry ids depend only on what the entry comes from: deriving again with
// more events keeps every earlier entry, id and amount, so the orchestrator
// can append the new ids only.
func TestEntryIDsAreStable(t *testing.T) {
	first := marketplace.Input{
		Sales:   []marketplace.Sale{sale("p", "o1", "2026-11-02", usd, "59.00", "9.00")},
		Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-11-05", usd, "29.50")},
	}
	more := first
	more.Sales = append([]marketplace.Sale{sale("q", "o2", "2026-11-01", eur, "10.00", "0.00")}, first.Sales...)
	more.Refunds = append([]marketplace.Refund{refund("q", "o2", "r1", "2026-11-03", eur, "5.00")}, first.Refunds...)
	a, b := derive(t, first), derive(t, more)
	seen := map[string]string{}
	for _, e := range b.Entries {
		seen[e.ID] = fmt.Sprint(e.Kind, money.FormatDecimal(e.Amount), e.At)
	}
	for _, e := range a.Entries {
		if got, ok := seen[e.ID]; !ok || got != fmt.Sprint(e.Kind, money.FormatDecimal(e.Amount), e.At) {
			t.Errorf("entry %s %s changed or vanished: %q", e.ID, e.Kind, got)
		}
	}
	if len(b.Entries) <= len(a.Entries) {
		t.Errorf("%d entries, want more than %d", len(b.Entries), len(a.Entries))
	}
}

// Each entry says how it moves the provider's balances, and the ledger's
// Held and Available deltas add up to Ledger.Balances.
func TestEntryDeltas(t *testing.T) {
	in := marketplace.Input{
		Sales:   []marketplace.Sale{usd100("o1", "2026-11-02"), usd100("o2", "2026-11-20")},
		Refunds: []marketplace.Refund{refund("p", "o2", "r1", "2026-11-21", usd, "10.00"), refund("p", "o1", "r1", "2026-12-05", usd, "100.00")},
		KYC:     kycNov1,
		Payouts: []marketplace.Payout{{ID: "po_x", Provider: "p", Currency: usd, At: ts("2026-12-01"), Amount: d("85.00"), Status: marketplace.PayoutFailed, FailedAt: ts("2026-12-02")}},
	}
	l := derive(t, in)
	for _, e := range l.Entries {
		h, a := money.FormatDecimal(e.HeldDelta()), money.FormatDecimal(e.AvailableDelta())
		var wh, wa string
		switch {
		case e.Kind == marketplace.EntryHoldRelease:
			wh, wa = money.FormatDecimal(e.Amount.Neg()), money.FormatDecimal(e.Amount)
		case e.Bucket == marketplace.BucketHeld:
			wh, wa = money.FormatDecimal(e.Amount), "0"
		case e.Bucket == marketplace.BucketAvailable:
			wh, wa = "0", money.FormatDecimal(e.Amount)
		default:
			wh, wa = "0", "0"
		}
		if h != wh || a != wa {
			t.Errorf("%s %s: held %s available %s, want %s %s", e.Kind, e.Amount, h, a, wh, wa)
		}
	}
	for _, asOf := range []time.Time{ts("2026-11-16"), ts("2026-12-01"), ts("2026-12-02"), ts("2026-12-05"), ts("2027-01-01")} {
		var held, avail = usd.Round(d("0")), usd.Round(d("0"))
		for _, e := range l.Entries {
			if !e.At.After(asOf) {
				held, avail = held.Add(e.HeldDelta()), avail.Add(e.AvailableDelta())
			}
		}
		b := l.Balance("p", usd, asOf)
		if !b.Held.Equal(held) || !b.Available.Equal(avail) {
			t.Errorf("%s: balance %s/%s, entries %s/%s", asOf, b.Held, b.Available, held, avail)
		}
	}
	// o2: 100.00 on 11-20, refund 10.00 on 11-21: net 90.00, fee 13.50, share 76.50.
	// at 12-05 (failed payout returned on 12-02): o1 85.00 refunded entirely → 0; o2 released 12-04.
	b := l.Balance("p", usd, ts("2026-12-05"))
	eq(t, "held", b.Held, "0.00")
	eq(t, "available", b.Available, "76.50")
	eq(t, "paid", b.Paid, "0.00")
}
