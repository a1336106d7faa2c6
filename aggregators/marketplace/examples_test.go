package marketplace_test

import (
	"testing"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// The worked examples of SPEC §3, "Marketplace, per sale".
func TestSpecWorkedExamples(t *testing.T) {
	rate := terms.PlatformFee
	t.Run("gross 59.00 tax 9.00", func(t *testing.T) {
		s, err := marketplace.SplitSale(rate, usd, d("59.00"), d("9.00"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "net", s.Net, "50.00")
		eq(t, "fee", s.Fee, "7.50")
		eq(t, "share", s.Share, "42.50")
	})
	t.Run("refund 29.50 of it", func(t *testing.T) {
		s, err := marketplace.SplitAfterRefunds(rate, usd, d("59.00"), d("9.00"), d("29.50"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "remaining net", s.Net, "25.00")
		eq(t, "fee", s.Fee, "3.75")
		eq(t, "share", s.Share, "21.25")

		l := derive(t, marketplace.Input{
			Sales:   []marketplace.Sale{sale("p1", "o1", "2026-11-02T10:00:00Z", usd, "59.00", "9.00")},
			Refunds: []marketplace.Refund{refund("p1", "o1", "r1", "2026-11-05T10:00:00Z", usd, "29.50")},
		})
		// reversal −21.25 share, −3.75 fee; the tax part 29.50 − 25.00 = 4.50.
		sameStrings(t, "ledger", entries(l, "o1"), []string{
			"sale 59.00", "tax 9.00", "fee 7.50", "share/held 42.50",
			"refund -29.50", "tax_refund -4.50", "fee_reversal -3.75", "share_reversal/held -21.25",
			"hold_release/available 21.25",
		})
	})
	t.Run("net 10.30 half to even", func(t *testing.T) {
		// 10.30 × 0.15 = 1.545 → 1.54 (4 is even)
		s, err := marketplace.SplitSale(rate, usd, d("10.30"), d("0.00"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "fee", s.Fee, "1.54")
		eq(t, "share", s.Share, "8.76")
	})
	t.Run("JPY net 1010", func(t *testing.T) {
		// 1,010 × 0.15 = 151.5 → 152 (2 is even)
		s, err := marketplace.SplitSale(rate, jpy, d("1212"), d("202"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "net", s.Net, "1010")
		eq(t, "fee", s.Fee, "152")
		eq(t, "share", s.Share, "858")
	})
}

// A month of marketplace activity for three providers and two payout runs,
// every figure worked by hand from the SPEC rules.
func TestWalkthrough(t *testing.T) {
	in := marketplace.Input{
		Sales: []marketplace.Sale{
			// p1, USD: 59.00/9.00 → share 42.50; 10.30/0 → share 8.76;
			// 100.00/20.00 → net 80.00, fee 12.00, share 68.00.
			sale("p1", "o1", "2026-11-02T10:00:00Z", usd, "59.00", "9.00"),
			sale("p1", "o2", "2026-11-03T00:00:00Z", usd, "10.30", "0.00"),
			sale("p1", "o3", "2026-11-20T08:00:00Z", usd, "100.00", "20.00"),
			// p2, JPY: 1,212/202 → net 1,010, fee 152, share 858.
			sale("p2", "o4", "2026-11-04T00:00:00Z", jpy, "1212", "202"),
			// p3, EUR: 60.00/10.00 → share 42.50, under the 50.00 minimum.
			sale("p3", "o5", "2026-11-05T00:00:00Z", eur, "60.00", "10.00"),
		},
		Refunds: []marketplace.Refund{
			// during o1's hold: remaining net 25.00, share 21.25.
			refund("p1", "o1", "r1", "2026-11-05T10:00:00Z", usd, "29.50"),
		},
		KYC: []marketplace.KYCChange{
			verified("p1", "2026-11-01T00:00:00Z", "acct_P1"),
			verified("p2", "2026-11-01T00:00:00Z", "acct_P2"),
			verified("p3", "2026-11-01T00:00:00Z", "acct_P3"),
		},
	}
	dec1, jan1 := ts("2026-12-01"), ts("2027-01-01")

	run1, err := marketplace.RunPayouts(terms, in, dec1)
	if err != nil {
		t.Fatal(err)
	}
	// p1 available: 21.25 + 8.76 = 30.01 < 50.00; o3 (released 12-04) held 68.00.
	// p2: 858 ≥ 50 JPY, paid. p3: 42.50 < 50.00.
	if len(run1.Payouts) != 1 {
		t.Fatalf("run 1: %d payouts, want 1: %+v", len(run1.Payouts), run1.Payouts)
	}
	p := run1.Payouts[0]
	if p.Provider != "p2" || p.Currency != jpy || p.StripeAccount != "acct_P2" || p.Status != marketplace.PayoutPending {
		t.Errorf("run 1 payout = %+v", p)
	}
	eq(t, "p2 payout", p.Amount, "858")
	sameStrings(t, "p2 statement", lines(p), []string{"sale o4 858"})
	if p.ID != marketplace.PayoutID("p2", jpy, dec1) {
		t.Errorf("payout id %s is not PayoutID(p2, JPY, T)", p.ID)
	}
	wantCarried := []struct {
		provider, held, available string
		reason                    marketplace.CarryReason
	}{
		{"p1", "68.00", "30.01", marketplace.CarryBelowMinimum},
		{"p3", "0.00", "42.50", marketplace.CarryBelowMinimum},
	}
	if len(run1.Carried) != len(wantCarried) {
		t.Fatalf("run 1 carried %+v", run1.Carried)
	}
	for i, w := range wantCarried {
		c := run1.Carried[i]
		if c.Provider != w.provider || c.Reason != w.reason {
			t.Errorf("carried[%d] = %s %s, want %s %s", i, c.Provider, c.Reason, w.provider, w.reason)
		}
		eq(t, c.Provider+" held", c.Held, w.held)
		eq(t, c.Provider+" available", c.Available, w.available)
	}

	in.Payouts = append(in.Payouts, run1.Payouts...)
	run2, err := marketplace.RunPayouts(terms, in, jan1)
	if err != nil {
		t.Fatal(err)
	}
	// p1: 30.01 + 68.00 = 98.01, paid; p2: 0 after its payout; p3 still 42.50.
	if len(run2.Payouts) != 1 || run2.Payouts[0].Provider != "p1" {
		t.Fatalf("run 2 payouts %+v", run2.Payouts)
	}
	eq(t, "p1 payout", run2.Payouts[0].Amount, "98.01")
	sameStrings(t, "p1 statement", lines(run2.Payouts[0]), []string{
		"sale o1 42.50", "refund o1/r1 -21.25", "sale o2 8.76", "sale o3 68.00",
	})

	in.Payouts = append(in.Payouts, run2.Payouts...)
	l := derive(t, in)
	for _, b := range l.Balances(jan1) {
		want := map[string][3]string{
			"p1": {"0.00", "0.00", "98.01"},
			"p2": {"0", "0", "858"},
			"p3": {"0.00", "42.50", "0.00"},
		}[b.Provider]
		eq(t, b.Provider+" held", b.Held, want[0])
		eq(t, b.Provider+" available", b.Available, want[1])
		eq(t, b.Provider+" paid", b.Paid, want[2])
	}
	if got := len(l.Balances(jan1)); got != 3 {
		t.Errorf("%d balances, want 3", got)
	}
	// Re-running both dates pays nothing more.
	for _, at := range []string{"2026-12-01", "2027-01-01"} {
		r, err := l.RunPayouts(ts(at))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Payouts) != 0 {
			t.Errorf("re-run at %s paid again: %+v", at, r.Payouts)
		}
	}
}
