package marketplace_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// Two runs, the second continued from the first's snapshot, figures worked
// by hand (15 % fee, 14-day hold, minimum 50.00 USD):
//
//	p1: o1 on Nov 1, gross 118.00, tax 18.00 → net 100.00, fee 15.00,
//	    share 85.00, released Nov 15; run Nov 20 pays 85.00.
//	    Stored after that run: refund of 59.00 dated Nov 18 (late). What
//	    is left of the net is 59/118 × 100 = 50.00, fee 7.50, share
//	    42.50: −42.50 taken from available on Nov 18 (85.00 there, no
//	    clawback), so after the Nov 20 payout available is −42.50.
//	    o2 on Nov 25, gross 236.00, tax 36.00 → share 170.00, released
//	    Dec 9. Run Dec 10: −42.50 + 170.00 = 127.50, statement
//	    carry-over −42.50 + sale 170.00.
//	p2: o3 on Nov 10, gross 59.00, no tax → fee 8.85, share 50.15,
//	    released Nov 24: held at the Nov 20 run (below minimum), paid
//	    50.15 on Dec 10 from the snapshot alone.
func TestAdvanceLateRefundAfterPayout(t *testing.T) {
	first := marketplace.Input{
		Sales: []marketplace.Sale{
			sale("p1", "o1", "2026-11-01T10:00:00Z", usd, "118.00", "18.00"),
			sale("p2", "o3", "2026-11-10T10:00:00Z", usd, "59.00", "0"),
		},
		KYC: []marketplace.KYCChange{verified("p1", "2026-11-01", "acct_1"), verified("p2", "2026-11-01", "acct_2")},
	}
	l1 := derive(t, first)
	run1, err := l1.RunPayouts(ts("2026-11-20"))
	if err != nil {
		t.Fatal(err)
	}
	if len(run1.Payouts) != 1 || run1.Payouts[0].Provider != "p1" {
		t.Fatalf("first run: %+v", run1.Payouts)
	}
	eq(t, "p1's first payout", run1.Payouts[0].Amount, "85.00")
	snap, err := l1.Snapshot(ts("2026-11-20"), run1.Payouts)
	if err != nil {
		t.Fatal(err)
	}

	paid := run1.Payouts[0]
	paid.Lines, paid.Status = nil, marketplace.PayoutPaid
	delta := marketplace.Input{
		Sales:   []marketplace.Sale{sale("p1", "o2", "2026-11-25T10:00:00Z", usd, "236.00", "36.00")},
		Refunds: []marketplace.Refund{refund("p1", "o1", "r1", "2026-11-18T10:00:00Z", usd, "59.00")},
		Payouts: []marketplace.Payout{paid},
	}
	history := func(providers []string) (marketplace.Input, error) {
		if !slices.Equal(providers, []string{"p1"}) {
			t.Fatalf("history of %v, want only p1 (the late refund's)", providers)
		}
		return marketplace.Input{
			Sales:   []marketplace.Sale{first.Sales[0], delta.Sales[0]},
			Refunds: delta.Refunds,
			KYC:     first.KYC[:1],
		}, nil
	}
	// The snapshot keeps held orders only (o3, released Nov 24): o1,
	// named by the refund, is read from its events as the snapshot
	// counted them (o2 is new).
	var asked []string
	orders := func(ids []string) (marketplace.Input, error) {
		asked = append(asked, ids...)
		return marketplace.Input{Sales: first.Sales[:1]}, nil
	}
	l2, err := marketplace.Advance(terms, snap, delta, marketplace.Source{History: history, Orders: orders})
	if err != nil {
		t.Fatal(err)
	}
	if got := l2.Rederived(); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("re-derived %v", got)
	}
	if !slices.Equal(asked, []string{"o1", "o2"}) || len(snap.Orders) != 1 || snap.Orders[0].Sale.OrderID != "o3" {
		t.Fatalf("orders read %v; snapshot orders %+v", asked, snap.Orders)
	}
	b := l2.Balance("p1", usd, ts("2026-11-20"))
	eq(t, "p1 available after the first payout", b.Available, "-42.50")

	run2, err := l2.RunPayouts(ts("2026-12-10"))
	if err != nil {
		t.Fatal(err)
	}
	if len(run2.Payouts) != 2 {
		t.Fatalf("second run: %+v", run2)
	}
	p1, p2 := run2.Payouts[0], run2.Payouts[1]
	eq(t, "p1's second payout", p1.Amount, "127.50")
	if len(p1.Lines) != 2 || p1.Lines[0].Kind != marketplace.LineCarryOver || p1.Lines[1].Kind != marketplace.LineSale {
		t.Fatalf("p1's statement: %+v", p1.Lines)
	}
	eq(t, "p1's carry-over", p1.Lines[0].Amount, "-42.50")
	eq(t, "o2's share", p1.Lines[1].Amount, "170.00")
	eq(t, "p2's payout", p2.Amount, "50.15")
	if len(p2.Lines) != 1 || p2.Lines[0].OrderID != "o3" {
		t.Fatalf("p2's statement: %+v", p2.Lines)
	}

	// the same, derived from everything
	full := derive(t, marketplace.Input{
		Sales: append(slices.Clone(first.Sales), delta.Sales...), Refunds: delta.Refunds, KYC: first.KYC, Payouts: delta.Payouts,
	})
	want, err := full.RunPayouts(ts("2026-12-10"))
	if err != nil {
		t.Fatal(err)
	}
	if dumpRun(run2) != dumpRun(want) {
		t.Fatalf("continued run\n%s\nfull run\n%s", dumpRun(run2), dumpRun(want))
	}
}

func TestAdvanceRefusesAnEarlierSnapshot(t *testing.T) {
	l1 := derive(t, marketplace.Input{Sales: []marketplace.Sale{sale("p1", "o1", "2026-11-10T10:00:00Z", usd, "10.00", "0")}})
	snap, err := l1.Snapshot(ts("2026-11-20"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := marketplace.Advance(terms, snap, marketplace.Input{}, marketplace.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Snapshot(ts("2026-11-19"), nil); !errors.Is(err, marketplace.ErrInvalidSnapshot) {
		t.Fatalf("snapshot before the one continued: %v", err)
	}
	snap.At = snap.At.AddDate(0, 0, -30) // o1, held at Nov 20, is now after the snapshot's time
	if _, err := marketplace.Advance(terms, snap, marketplace.Input{}, marketplace.Source{}); !errors.Is(err, marketplace.ErrInvalidSnapshot) {
		t.Fatalf("order after the snapshot's time: %v", err)
	}
}

// A payout recorded after the snapshot but dated before it (a run back in
// time, continuing an older snapshot) is one the snapshot did not count;
// so is the snapshot's latest payout gone from the record. Either way the
// provider is derived again, figures by hand:
//
//	p1: o1 on Nov 1, gross 118.00, tax 18.00 → share 85.00, released
//	    Nov 15. Snapshot at Nov 20, no payout: available 85.00.
//	    Recorded since: a payout of 85.00 at Nov 18 → available 0.00,
//	    paid 85.00 from Nov 18 on.
func TestAdvanceSeesPayoutsRecordedBehindTheSnapshot(t *testing.T) {
	first := marketplace.Input{
		Sales: []marketplace.Sale{sale("p1", "o1", "2026-11-01T10:00:00Z", usd, "118.00", "18.00")},
		KYC:   []marketplace.KYCChange{verified("p1", "2026-11-01", "acct_1")},
	}
	snap, err := derive(t, first).Snapshot(ts("2026-11-20"), nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "available in the snapshot", snap.Pairs[0].Available, "85.00")
	back := marketplace.Payout{ID: marketplace.PayoutID("p1", usd, ts("2026-11-18")), Provider: "p1", Currency: usd,
		At: ts("2026-11-18"), Amount: d("85.00"), StripeAccount: "acct_1", Status: marketplace.PayoutPaid}
	history := func([]string) (marketplace.Input, error) {
		in := first
		in.Payouts = []marketplace.Payout{back}
		return in, nil
	}
	none := func([]string) (marketplace.Input, error) { return marketplace.Input{}, nil }
	l, err := marketplace.Advance(terms, snap, marketplace.Input{Payouts: []marketplace.Payout{back}}, marketplace.Source{History: history, Orders: none})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Rederived(); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("re-derived %v, want p1 (a payout the snapshot did not count)", got)
	}
	b := l.Balance("p1", usd, ts("2026-11-20"))
	eq(t, "available", b.Available, "0.00")
	eq(t, "paid", b.Paid, "85.00")

	// the snapshot taken after that payout, continued without it
	snap2, err := l.Snapshot(ts("2026-11-20"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Pairs[0].LastPayoutID != back.ID {
		t.Fatalf("latest payout in the second snapshot %q", snap2.Pairs[0].LastPayoutID)
	}
	l2, err := marketplace.Advance(terms, snap2, marketplace.Input{}, marketplace.Source{History: func([]string) (marketplace.Input, error) { return first, nil }, Orders: none})
	if err != nil {
		t.Fatal(err)
	}
	if got := l2.Rederived(); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("re-derived %v, want p1 (the snapshot's latest payout is not recorded)", got)
	}
	eq(t, "available without the payout", l2.Balance("p1", usd, ts("2026-11-20")).Available, "85.00")
}
