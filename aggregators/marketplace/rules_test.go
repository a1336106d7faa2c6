package marketplace_test

import (
	"testing"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
)

// step is one check of a scenario, applied in order.
type step struct {
	// late events arriving before this step (dated in the past)
	late marketplace.Input

	at string
	c  money.Currency // default USD

	// balance check, when held != ""
	held, avail, paid string

	// payout run, when run
	run       bool
	pays      string                  // amount paid to provider "p"; "" = nothing
	reason    marketplace.CarryReason // when pays == ""
	account   string                  // when pays != ""
	statement []string                // when pays != "" and not nil

	// failAt marks the payout of this run as failed at that time.
	failAt string
}

type scenario struct {
	name    string
	in      marketplace.Input
	entries []string // ledger entries of order o1, when not nil
	steps   []step
}

// usd100 sells order o at the given time for 100.00 USD without tax:
// fee 15.00, share 85.00.
func usd100(o, at string) marketplace.Sale { return sale("p", o, at, usd, "100.00", "0.00") }

var kycNov1 = []marketplace.KYCChange{verified("p", "2026-11-01", "acct_A")}

func TestScenarios(t *testing.T) {
	for _, sc := range []scenario{
		{
			name: "14-day edge, to the second",
			in:   marketplace.Input{Sales: []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")}, KYC: kycNov1},
			steps: []step{
				{at: "2026-11-16T09:59:59Z", held: "85.00", avail: "0.00", paid: "0.00"},
				{at: "2026-11-16T09:59:59Z", run: true, reason: marketplace.CarryBelowMinimum},
				{at: "2026-11-16T10:00:00Z", held: "0.00", avail: "85.00", paid: "0.00"},
				{at: "2026-11-16T10:00:00Z", run: true, pays: "85.00", account: "acct_A", statement: []string{"sale o1 85.00"}},
				{at: "2026-11-16T10:00:00Z", held: "0.00", avail: "0.00", paid: "85.00"},
			},
		},
		{
			// remaining net round(50.00 × 100.00 ÷ 100.00) = 50.00, fee 7.50, share 42.50
			name: "refund one second before release reduces held",
			in: marketplace.Input{
				Sales:   []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")},
				Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-11-16T09:59:59Z", usd, "50.00")},
			},
			entries: []string{
				"sale 100.00", "tax 0.00", "fee 15.00", "share/held 85.00",
				"refund -50.00", "fee_reversal -7.50", "share_reversal/held -42.50",
				"hold_release/available 42.50",
			},
			steps: []step{
				{at: "2026-11-16T09:59:59Z", held: "42.50", avail: "0.00", paid: "0.00"},
				{at: "2026-11-16T10:00:00Z", held: "0.00", avail: "42.50", paid: "0.00"},
			},
		},
		{
			name: "refund exactly at release reduces available",
			in: marketplace.Input{
				Sales:   []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")},
				Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-11-16T10:00:00Z", usd, "50.00")},
			},
			entries: []string{
				"sale 100.00", "tax 0.00", "fee 15.00", "share/held 85.00",
				"hold_release/available 85.00",
				"refund -50.00", "fee_reversal -7.50", "share_reversal/available -42.50",
			},
			steps: []step{
				{at: "2026-11-16T09:59:59Z", held: "85.00", avail: "0.00", paid: "0.00"},
				{at: "2026-11-16T10:00:00Z", held: "0.00", avail: "42.50", paid: "0.00"},
			},
		},
		{
			name: "KYC verified after the sale",
			in: marketplace.Input{
				Sales: []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")},
				KYC:   []marketplace.KYCChange{verified("p", "2026-12-15", "acct_LATE")},
			},
			steps: []step{
				{at: "2026-12-01", run: true, reason: marketplace.CarryNotVerified},
				{at: "2026-12-01", held: "0.00", avail: "85.00", paid: "0.00"},
				{at: "2027-01-01", run: true, pays: "85.00", account: "acct_LATE"},
			},
		},
		{
			name: "KYC revoked before a run, verified again with another account",
			in: marketplace.Input{
				Sales: []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")},
				KYC: []marketplace.KYCChange{
					verified("p", "2026-11-01", "acct_A"),
					revoked("p", "2026-11-30T23:59:59Z"),
					verified("p", "2026-12-10", "acct_B"),
				},
			},
			steps: []step{
				{at: "2026-12-01", run: true, reason: marketplace.CarryNotVerified},
				{at: "2027-01-01", run: true, pays: "85.00", account: "acct_B"},
			},
		},
		{
			name: "revocation wins over a verification at the same instant",
			in: marketplace.Input{
				Sales: []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")},
				KYC: []marketplace.KYCChange{
					verified("p", "2026-11-01", "acct_A"),
					verified("p", "2026-11-30", "acct_B"),
					revoked("p", "2026-11-30"),
				},
			},
			steps: []step{{at: "2026-12-01", run: true, reason: marketplace.CarryNotVerified}},
		},
		{
			name: "KYC verified exactly at the run time counts",
			in: marketplace.Input{
				Sales: []marketplace.Sale{usd100("o1", "2026-11-02T10:00:00Z")},
				KYC:   []marketplace.KYCChange{verified("p", "2026-12-01", "acct_A")},
			},
			steps: []step{{at: "2026-12-01", run: true, pays: "85.00", account: "acct_A"}},
		},
		{
			// 40.00 → fee 6.00, share 34.00; 20.00 → fee 3.00, share 17.00
			name: "below minimum carries over",
			in: marketplace.Input{
				Sales: []marketplace.Sale{
					sale("p", "o1", "2026-11-02", usd, "40.00", "0.00"),
					sale("p", "o2", "2026-11-25", usd, "20.00", "0.00"),
				},
				KYC: kycNov1,
			},
			steps: []step{
				{at: "2026-12-01", run: true, reason: marketplace.CarryBelowMinimum},
				{at: "2026-12-01", held: "17.00", avail: "34.00", paid: "0.00"},
				{at: "2027-01-01", run: true, pays: "51.00", statement: []string{"sale o1 34.00", "sale o2 17.00"}},
			},
		},
		{
			// 58.82 → fee 8.823 → 8.82, share 50.00: exactly the minimum
			name: "exactly the minimum is paid",
			in:   marketplace.Input{Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", usd, "58.82", "0.00")}, KYC: kycNov1},
			steps: []step{
				{at: "2026-12-01", run: true, pays: "50.00"},
			},
		},
		{
			// 58.81 → fee 8.8215 → 8.82, share 49.99
			name:  "one cent below the minimum",
			in:    marketplace.Input{Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", usd, "58.81", "0.00")}, KYC: kycNov1},
			steps: []step{{at: "2026-12-01", run: true, reason: marketplace.CarryBelowMinimum}},
		},
		{
			// o2: 200.00 → fee 30.00, share 170.00, released 2027-01-03
			name: "refund after payout: negative balance offset by later sales",
			in: marketplace.Input{
				Sales:   []marketplace.Sale{usd100("o1", "2026-11-02"), sale("p", "o2", "2026-12-20", usd, "200.00", "0.00")},
				Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-12-05", usd, "100.00")},
				KYC:     kycNov1,
			},
			entries: []string{
				"sale 100.00", "tax 0.00", "fee 15.00", "share/held 85.00",
				"hold_release/available 85.00",
				"refund -100.00", "fee_reversal -15.00", "clawback/available -85.00",
			},
			steps: []step{
				{at: "2026-12-01", run: true, pays: "85.00"},
				{at: "2026-12-05", held: "0.00", avail: "-85.00", paid: "85.00"},
				{at: "2027-01-01", run: true, reason: marketplace.CarryClawback},
				{at: "2027-01-02", held: "170.00", avail: "-85.00", paid: "85.00"},
				{at: "2027-02-01", run: true, pays: "85.00", statement: []string{"clawback o1/r1 -85.00", "sale o2 170.00"}},
				{at: "2027-02-01", held: "0.00", avail: "0.00", paid: "170.00"},
			},
		},
		{
			// refund 60.00 of o1: remaining net 40.00, fee 6.00, share 34.00, Δ −51.00;
			// o2 (50.00 → share 42.50, released 12-04) covers 42.50, 8.50 is clawed back;
			// o3 (100.00 → 85.00, released 12-29) offsets it: 85.00 − 8.50 = 76.50.
			name: "partial clawback",
			in: marketplace.Input{
				Sales: []marketplace.Sale{
					usd100("o1", "2026-11-02"),
					sale("p", "o2", "2026-11-20", usd, "50.00", "0.00"),
					usd100("o3", "2026-12-15"),
				},
				Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-12-10", usd, "60.00")},
				KYC:     kycNov1,
			},
			entries: []string{
				"sale 100.00", "tax 0.00", "fee 15.00", "share/held 85.00",
				"hold_release/available 85.00",
				"refund -60.00", "fee_reversal -9.00", "share_reversal/available -42.50", "clawback/available -8.50",
			},
			steps: []step{
				{at: "2026-12-01", run: true, pays: "85.00"},
				{at: "2026-12-10", held: "0.00", avail: "-8.50", paid: "85.00"},
				{at: "2027-01-01", run: true, pays: "76.50", statement: []string{
					"sale o2 42.50", "refund o1/r1 -42.50", "clawback o1/r1 -8.50", "sale o3 85.00",
				}},
			},
		},
		{
			// 59.00/9.00 sold 11-02 10:00 (released 11-16 10:00), refunded in three steps:
			// 10.00 → net 41.53 (2450/59), fee 6.23, share 35.30: Δ share −7.20, fee −1.27, tax −1.53
			// 19.50 → net 25.00, fee 3.75, share 21.25: Δ share −14.05, fee −2.48, tax −2.97
			// 29.50 → all zero: Δ share −21.25, fee −3.75, tax −4.50
			name: "partial refunds in several steps, across the release",
			in: marketplace.Input{
				Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02T10:00:00Z", usd, "59.00", "9.00")},
				Refunds: []marketplace.Refund{
					refund("p", "o1", "r3", "2026-11-25", usd, "29.50"),
					refund("p", "o1", "r1", "2026-11-03", usd, "10.00"),
					refund("p", "o1", "r2", "2026-11-20", usd, "19.50"),
				},
			},
			entries: []string{
				"sale 59.00", "tax 9.00", "fee 7.50", "share/held 42.50",
				"refund -10.00", "tax_refund -1.53", "fee_reversal -1.27", "share_reversal/held -7.20",
				"hold_release/available 35.30",
				"refund -19.50", "tax_refund -2.97", "fee_reversal -2.48", "share_reversal/available -14.05",
				"refund -29.50", "tax_refund -4.50", "fee_reversal -3.75", "share_reversal/available -21.25",
			},
			steps: []step{
				{at: "2026-11-03", held: "35.30", avail: "0.00", paid: "0.00"},
				{at: "2026-11-16T10:00:00Z", held: "0.00", avail: "35.30", paid: "0.00"},
				{at: "2026-11-20", held: "0.00", avail: "21.25", paid: "0.00"},
				{at: "2026-11-25", held: "0.00", avail: "0.00", paid: "0.00"},
				{at: "2026-12-01", run: true, reason: marketplace.CarryBelowMinimum},
			},
		},
		{
			// 1,212/202 → share 858; refund 606 → net 505, fee 75.75 → 76, share 429
			name: "JPY with a partial refund",
			in: marketplace.Input{
				Sales:   []marketplace.Sale{sale("p", "o1", "2026-11-02", jpy, "1212", "202")},
				Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-11-05", jpy, "606")},
				KYC:     kycNov1,
			},
			entries: []string{
				"sale 1212", "tax 202", "fee 152", "share/held 858",
				"refund -606", "tax_refund -101", "fee_reversal -76", "share_reversal/held -429",
				"hold_release/available 429",
			},
			steps: []step{
				{at: "2026-11-05", c: jpy, held: "429", avail: "0", paid: "0"},
				{at: "2026-12-01", c: jpy, run: true, pays: "429", statement: []string{"sale o1 858", "refund o1/r1 -429"}},
			},
		},
		{
			// 58 → fee 8.7 → 9, share 49 < 50 JPY; 59 → fee 8.85 → 9, share 50
			name: "JPY minimum of 50",
			in: marketplace.Input{
				Sales: []marketplace.Sale{
					sale("p", "o1", "2026-11-02", jpy, "58", "0"),
					sale("p", "o2", "2026-11-20", jpy, "59", "0"),
				},
				KYC: kycNov1,
			},
			steps: []step{
				{at: "2026-11-16", c: jpy, run: true, reason: marketplace.CarryBelowMinimum},
				{at: "2026-12-04", c: jpy, held: "0", avail: "99", paid: "0"},
				{at: "2026-12-04", c: jpy, run: true, pays: "99"},
			},
		},
		{
			// 60.00/10.00 → 42.50; 10.00 → fee 1.50, share 8.50
			name: "EUR",
			in: marketplace.Input{
				Sales: []marketplace.Sale{
					sale("p", "o1", "2026-11-02", eur, "60.00", "10.00"),
					sale("p", "o2", "2026-11-20", eur, "10.00", "0.00"),
					usd100("o3", "2026-11-02"), // USD is a separate balance
				},
				KYC: kycNov1,
			},
			steps: []step{
				{at: "2026-12-01", c: eur, run: true, reason: marketplace.CarryBelowMinimum},
				{at: "2026-12-01", c: eur, held: "8.50", avail: "42.50", paid: "0.00"},
				{at: "2026-12-01", c: usd, held: "0.00", avail: "0.00", paid: "85.00"},
				{at: "2027-01-01", c: eur, run: true, pays: "51.00"},
			},
		},
		{
			name: "failed payout returns the money to available",
			in:   marketplace.Input{Sales: []marketplace.Sale{usd100("o1", "2026-11-02")}, KYC: kycNov1},
			steps: []step{
				{at: "2026-12-01", run: true, pays: "85.00", failAt: "2026-12-03"},
				{at: "2026-12-02", held: "0.00", avail: "0.00", paid: "85.00"},
				{at: "2026-12-03", held: "0.00", avail: "85.00", paid: "0.00"},
				{at: "2026-12-01", run: true, reason: marketplace.CarryAlreadyRun},
				{at: "2027-01-01", run: true, pays: "85.00", statement: []string{"returned_payout payout 85.00"}},
				{at: "2026-12-15", run: true, reason: marketplace.CarryLaterPayout},
				{at: "2027-01-01", held: "0.00", avail: "0.00", paid: "85.00"},
			},
		},
		{
			// After the 12-01 payout of o1's 85.00, a refund of o1 dated 11-20 and a
			// sale o2 dated 11-10 (200.00 → share 170.00, released 11-24) arrive:
			// available at 12-01 becomes 85.00 − 85.00 + 170.00 − 85.00 = 85.00,
			// all of it dated before the last payout: one carry-over line.
			name: "late events before a payout are carried over",
			in:   marketplace.Input{Sales: []marketplace.Sale{usd100("o1", "2026-11-02")}, KYC: kycNov1},
			steps: []step{
				{at: "2026-12-01", run: true, pays: "85.00", statement: []string{"sale o1 85.00"}},
				{
					late: marketplace.Input{
						Sales:   []marketplace.Sale{sale("p", "o2", "2026-11-10", usd, "200.00", "0.00")},
						Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-11-20", usd, "100.00")},
					},
					at: "2026-12-01", held: "0.00", avail: "85.00", paid: "85.00",
				},
				{at: "2026-12-01", run: true, reason: marketplace.CarryAlreadyRun},
				{at: "2027-01-01", run: true, pays: "85.00", statement: []string{"carry_over payout 85.00"}},
			},
		},
		{
			name: "free course",
			in: marketplace.Input{
				Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", usd, "0.00", "0.00")},
				KYC:   kycNov1,
			},
			entries: []string{"sale 0.00", "tax 0.00", "fee 0.00", "share/held 0.00"},
			steps: []step{
				{at: "2026-12-01", held: "0.00", avail: "0.00", paid: "0.00"},
				{at: "2026-12-01", run: true, reason: marketplace.CarryBelowMinimum},
			},
		},
		{
			// The shipped book lists USD, EUR and JPY; GBP takes the
			// default minimum of 50 units: 85.00 ≥ 50.00 is paid.
			name: "currency the book does not list pays with the default minimum",
			in: marketplace.Input{
				Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", cur("GBP"), "100.00", "0.00")},
				KYC:   kycNov1,
			},
			steps: []step{
				{at: "2026-12-01", c: cur("GBP"), held: "0.00", avail: "85.00", paid: "0.00"},
				{at: "2026-12-01", c: cur("GBP"), run: true, pays: "85.00", statement: []string{"sale o1 85.00"}},
			},
		},
		{
			// KWD has 3 digits: fee round(134.120 × 0.15 = 20.118) =
			// 20.118, share 134.120 − 20.118 = 114.002 ≥ 50.000.
			name: "KWD pays to the fils",
			in: marketplace.Input{
				Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", cur("KWD"), "134.120", "0")},
				KYC:   kycNov1,
			},
			entries: []string{"sale 134.120", "tax 0.000", "fee 20.118", "share/held 114.002", "hold_release/available 114.002"},
			steps: []step{
				{at: "2026-12-01", c: cur("KWD"), held: "0.000", avail: "114.002", paid: "0.000"},
				{at: "2026-12-01", c: cur("KWD"), run: true, pays: "114.002", statement: []string{"sale o1 114.002"}},
			},
		},
		{
			// KRW has no minor unit: fee 90,910 × 0.15 = 13,636.5 → 13,636
			// (half to even), share 90,910 − 13,636 = 77,274 ≥ 50.
			name: "KRW pays whole won",
			in: marketplace.Input{
				Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", cur("KRW"), "90910", "0")},
				KYC:   kycNov1,
			},
			steps: []step{
				{at: "2026-12-01", c: cur("KRW"), held: "0", avail: "77274", paid: "0"},
				{at: "2026-12-01", c: cur("KRW"), run: true, pays: "77274", statement: []string{"sale o1 77274"}},
			},
		},
		{
			// BHD: net 55.000 − 5.000 = 50.000, fee 7.500, share 42.500 <
			// 50.000: carried. A second sale (fee 3.000, share 17.000)
			// released on Dec 4 brings it to 42.500 + 17.000 = 59.500.
			name: "BHD below 50 units carries over until it reaches them",
			in: marketplace.Input{
				Sales: []marketplace.Sale{sale("p", "o1", "2026-11-02", cur("BHD"), "55.000", "5.000")},
				KYC:   kycNov1,
			},
			steps: []step{
				{at: "2026-12-01", c: cur("BHD"), held: "0.000", avail: "42.500", paid: "0.000"},
				{at: "2026-12-01", c: cur("BHD"), run: true, reason: marketplace.CarryBelowMinimum},
				{
					late: marketplace.Input{Sales: []marketplace.Sale{sale("p", "o2", "2026-11-20", cur("BHD"), "20.000", "0")}},
					at:   "2026-12-04", c: cur("BHD"), held: "0.000", avail: "59.500", paid: "0.000",
				},
				{at: "2026-12-04", c: cur("BHD"), run: true, pays: "59.500", statement: []string{"sale o1 42.500", "sale o2 17.000"}},
			},
		},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.check(t) })
	}
}

func (sc scenario) check(t *testing.T) {
	in := sc.in
	l := derive(t, in)
	if len(l.Rejected) != 0 {
		t.Fatalf("rejected: %v", l.Rejected)
	}
	for i, st := range sc.steps {
		if len(st.late.Sales)+len(st.late.Refunds)+len(st.late.KYC) > 0 {
			in.Sales = append(in.Sales, st.late.Sales...)
			in.Refunds = append(in.Refunds, st.late.Refunds...)
			in.KYC = append(in.KYC, st.late.KYC...)
			l = derive(t, in)
		}
		c := st.c
		if c.Code == "" {
			c = usd
		}
		if st.held != "" {
			b := l.Balance("p", c, ts(st.at))
			eq(t, st.at+" held", b.Held, st.held)
			eq(t, st.at+" available", b.Available, st.avail)
			eq(t, st.at+" paid", b.Paid, st.paid)
		}
		if !st.run {
			continue
		}
		run, err := l.RunPayouts(ts(st.at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var got *marketplace.Payout
		for j := range run.Payouts {
			if run.Payouts[j].Currency == c {
				got = &run.Payouts[j]
			}
		}
		in.Payouts = append(in.Payouts, run.Payouts...)
		if st.pays == "" {
			if got != nil {
				t.Fatalf("step %d at %s: paid %s, want nothing", i, st.at, money.FormatDecimal(got.Amount))
			}
			var reason marketplace.CarryReason
			for _, cr := range run.Carried {
				if cr.Currency == c {
					reason = cr.Reason
				}
			}
			if reason != st.reason {
				t.Errorf("step %d at %s: carried with %q, want %q", i, st.at, reason, st.reason)
			}
		} else {
			if got == nil {
				t.Fatalf("step %d at %s: nothing paid, want %s (carried %+v)", i, st.at, st.pays, run.Carried)
			}
			eq(t, st.at+" payout", got.Amount, st.pays)
			if st.account != "" && got.StripeAccount != st.account {
				t.Errorf("step %d: account %q, want %q", i, got.StripeAccount, st.account)
			}
			if st.statement != nil {
				sameStrings(t, st.at+" statement", lines(*got), st.statement)
			}
			if got.ID != marketplace.PayoutID("p", c, ts(st.at)) {
				t.Errorf("step %d: payout id %s not deterministic", i, got.ID)
			}
			if st.failAt != "" {
				for j := range in.Payouts {
					if in.Payouts[j].ID == got.ID {
						in.Payouts[j].Status = marketplace.PayoutFailed
						in.Payouts[j].FailedAt = ts(st.failAt)
						in.Payouts[j].FailureReason = "account cannot receive transfers"
					}
				}
			}
		}
		l = derive(t, in)
		// never twice: the same run again pays nothing more
		again, err := l.RunPayouts(ts(st.at))
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Payouts) != 0 {
			t.Errorf("step %d: re-run paid %+v", i, again.Payouts)
		}
	}
	// The ledger of o1 with every payout made (clawbacks depend on them).
	if sc.entries != nil {
		sameStrings(t, "entries of o1", entries(l, "o1"), sc.entries)
	}
}
