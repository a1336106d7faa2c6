package marketplace_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

func TestRejections(t *testing.T) {
	o1 := sale("p", "o1", "2026-11-02", usd, "59.00", "9.00")
	noRefundID := refund("p", "o1", "", "2026-11-03", usd, "1.00")
	noRefundID.EventID = "ev-bad"
	for _, tc := range []struct {
		name     string
		sales    []marketplace.Sale
		refunds  []marketplace.Refund
		rejected map[string]error // event id → reason
		refunded string           // cumulative refunds accepted on o1
	}{
		{
			name:     "refund above what remains",
			refunds:  []marketplace.Refund{refund("p", "o1", "r1", "2026-11-03", usd, "30.00"), refund("p", "o1", "r2", "2026-11-04", usd, "29.01")},
			rejected: map[string]error{"ev-o1-r2": marketplace.ErrRefundExceedsSale},
			refunded: "30.00",
		},
		{
			name:     "refund of exactly what remains, then one cent more",
			refunds:  []marketplace.Refund{refund("p", "o1", "r1", "2026-11-03", usd, "30.00"), refund("p", "o1", "r2", "2026-11-04", usd, "29.00"), refund("p", "o1", "r3", "2026-11-05", usd, "0.01")},
			rejected: map[string]error{"ev-o1-r3": marketplace.ErrRefundExceedsSale},
			refunded: "59.00",
		},
		{
			name:     "refund in another currency",
			refunds:  []marketplace.Refund{refund("p", "o1", "r1", "2026-11-03", eur, "10.00")},
			rejected: map[string]error{"ev-o1-r1": marketplace.ErrCurrencyMismatch},
			refunded: "0.00",
		},
		{
			name:     "refund for an unknown order",
			refunds:  []marketplace.Refund{refund("p", "o9", "r1", "2026-11-03", usd, "10.00")},
			rejected: map[string]error{"ev-o9-r1": marketplace.ErrUnknownOrder},
			refunded: "0.00",
		},
		{
			name:     "duplicate refund id: the earliest wins",
			refunds:  []marketplace.Refund{refund("p", "o1", "r1", "2026-11-04", usd, "20.00"), refund("p", "o1", "r1", "2026-11-03", usd, "10.00")},
			rejected: map[string]error{"ev-o1-r1": marketplace.ErrDuplicateRefund},
			refunded: "10.00",
		},
		{
			name:     "a rejected refund does not claim its id",
			refunds:  []marketplace.Refund{refund("p", "o1", "r1", "2026-11-03", usd, "60.00"), {EventID: "later", Provider: "p", OrderID: "o1", RefundID: "r1", At: ts("2026-11-04"), Currency: usd, Amount: d("10.00")}},
			rejected: map[string]error{"ev-o1-r1": marketplace.ErrRefundExceedsSale},
			refunded: "10.00",
		},
		{
			name:     "refund before its sale",
			refunds:  []marketplace.Refund{refund("p", "o1", "r1", "2026-11-01T23:59:59Z", usd, "10.00")},
			rejected: map[string]error{"ev-o1-r1": marketplace.ErrRefundBeforeSale},
			refunded: "0.00",
		},
		{
			name:     "refund by another provider",
			refunds:  []marketplace.Refund{refund("q", "o1", "r1", "2026-11-03", usd, "10.00")},
			rejected: map[string]error{"ev-o1-r1": marketplace.ErrProviderMismatch},
			refunded: "0.00",
		},
		{
			name: "invalid refunds",
			refunds: []marketplace.Refund{
				refund("p", "o1", "zero", "2026-11-03", usd, "0.00"),
				refund("p", "o1", "subcent", "2026-11-03", usd, "1.001"),
				noRefundID,
			},
			rejected: map[string]error{
				"ev-o1-zero": marketplace.ErrInvalidRefund, "ev-o1-subcent": marketplace.ErrInvalidRefund, "ev-bad": marketplace.ErrInvalidRefund,
			},
			refunded: "0.00",
		},
		{
			name:     "duplicate order: the earliest sale wins, even given last",
			sales:    []marketplace.Sale{{EventID: "early", Provider: "p", OrderID: "o1", At: ts("2026-11-01"), Currency: usd, Gross: d("59.00"), Tax: d("9.00")}},
			rejected: map[string]error{"ev-o1": marketplace.ErrDuplicateOrder},
			refunded: "0.00",
		},
		{
			name: "invalid sales do not claim the order id",
			sales: []marketplace.Sale{
				{EventID: "taxy", Provider: "p", OrderID: "o1", At: ts("2026-11-01"), Currency: usd, Gross: d("5.00"), Tax: d("5.01")},
				{EventID: "xxx", Provider: "p", OrderID: "o1", At: ts("2026-11-01"), Currency: money.Currency{Code: "XXX"}, Gross: d("5.00"), Tax: d("0")},
				{EventID: "subcent", Provider: "p", OrderID: "o2", At: ts("2026-11-01"), Currency: usd, Gross: d("5.001"), Tax: d("0")},
				{EventID: "noprov", OrderID: "o3", At: ts("2026-11-01"), Currency: usd, Gross: d("5.00"), Tax: d("0")},
			},
			rejected: map[string]error{
				"taxy": marketplace.ErrInvalidSale, "xxx": marketplace.ErrInvalidSale,
				"subcent": marketplace.ErrInvalidSale, "noprov": marketplace.ErrInvalidSale,
			},
			refunded: "0.00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := derive(t, marketplace.Input{Sales: append([]marketplace.Sale{o1}, tc.sales...), Refunds: tc.refunds})
			if len(l.Rejected) != len(tc.rejected) {
				t.Errorf("rejected %v, want %d", l.Rejected, len(tc.rejected))
			}
			for id, want := range tc.rejected {
				got := l.Rejection(id)
				if got == nil {
					t.Errorf("event %s accepted, want %v", id, want)
					continue
				}
				if !errors.Is(got, want) {
					t.Errorf("event %s: %v, want %v", id, got, want)
				}
				var ee *marketplace.EventError
				if !errors.As(error(got), &ee) || ee.EventID != id {
					t.Errorf("event %s: not an *EventError naming it: %#v", id, got)
				}
			}
			o, ok := l.Order("o1")
			if !ok {
				t.Fatal("o1 unknown")
			}
			eq(t, "refunded", o.Refunded, tc.refunded)
			// the accepted refunds alone reach the ledger
			var sum decimal.Decimal
			for _, e := range l.Entries {
				if e.Kind == marketplace.EntryRefund {
					sum = sum.Sub(e.Amount)
				}
			}
			if !sum.Equal(o.Refunded) {
				t.Errorf("refund entries sum to %s, want %s", sum, o.Refunded)
			}
		})
	}
}

func TestRejectionMessage(t *testing.T) {
	l := derive(t, marketplace.Input{
		Sales:   []marketplace.Sale{sale("p", "o1", "2026-11-02", usd, "59.00", "9.00")},
		Refunds: []marketplace.Refund{refund("p", "o1", "r1", "2026-11-03", usd, "60.00")},
	})
	got := l.Rejection("ev-o1-r1").Error()
	want := `rejecting refund "r1" of order "o1" (provider "p"): refund of 60.00 USD, but only 59.00 USD of the sale's gross 59.00 remain: refund above what remains of the sale`
	if got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}
}

func TestBadRecordsStopTheEngine(t *testing.T) {
	s := []marketplace.Sale{sale("p", "o1", "2026-11-02", usd, "100.00", "0.00")}
	good := marketplace.Payout{ID: "po_1", Provider: "p", Currency: usd, At: ts("2026-12-01"), Amount: d("85.00"), Status: marketplace.PayoutPaid}
	with := func(edit func(p *marketplace.Payout)) []marketplace.Payout {
		p := good
		edit(&p)
		return []marketplace.Payout{p}
	}
	badTerms := terms
	badTerms.PlatformFee = d("1")
	zeroHold := terms
	zeroHold.RefundWindow = 0
	noDefault := terms
	noDefault.MinimumPayout = pricebook.Minimums{Amounts: terms.MinimumPayout.Amounts}
	zeroMinimum := terms
	zeroMinimum.MinimumPayout = pricebook.Minimums{Amounts: pricebook.Prices{"USD": d("0.00")}, Default: terms.MinimumPayout.Default}
	for _, tc := range []struct {
		name string
		m    func() error
		want error
	}{
		{"fee rate 1", func() error { _, err := marketplace.Derive(badTerms, marketplace.Input{}); return err }, marketplace.ErrInvalidTerms},
		{"no hold", func() error { _, err := marketplace.Derive(zeroHold, marketplace.Input{}); return err }, marketplace.ErrInvalidTerms},
		{"a currency without a minimum payout", func() error { _, err := marketplace.Derive(noDefault, marketplace.Input{}); return err }, pricebook.ErrNoMinimumPayout},
		{"a minimum payout of zero", func() error { _, err := marketplace.Derive(zeroMinimum, marketplace.Input{}); return err }, marketplace.ErrInvalidTerms},
		{"payout without id", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{Sales: s, Payouts: with(func(p *marketplace.Payout) { p.ID = "" })})
			return err
		}, marketplace.ErrInvalidPayout},
		{"duplicate payout id", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{Sales: s, Payouts: []marketplace.Payout{good, good}})
			return err
		}, marketplace.ErrInvalidPayout},
		{"payout of zero", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{Sales: s, Payouts: with(func(p *marketplace.Payout) { p.Amount = d("0") })})
			return err
		}, marketplace.ErrInvalidPayout},
		{"unknown status", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{Sales: s, Payouts: with(func(p *marketplace.Payout) { p.Status = "lost" })})
			return err
		}, marketplace.ErrInvalidPayout},
		{"failed before made", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{Sales: s, Payouts: with(func(p *marketplace.Payout) {
				p.Status, p.FailedAt = marketplace.PayoutFailed, p.At.Add(-time.Second)
			})})
			return err
		}, marketplace.ErrInvalidPayout},
		{"failure time on a paid payout", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{Sales: s, Payouts: with(func(p *marketplace.Payout) { p.FailedAt = p.At })})
			return err
		}, marketplace.ErrInvalidPayout},
		{"verification without account", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{KYC: []marketplace.KYCChange{{Provider: "p", At: ts("2026-11-01"), Verified: true}}})
			return err
		}, marketplace.ErrInvalidKYC},
		{"KYC without time", func() error {
			_, err := marketplace.Derive(terms, marketplace.Input{KYC: []marketplace.KYCChange{{Provider: "p"}}})
			return err
		}, marketplace.ErrInvalidKYC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAddEvent(t *testing.T) {
	at := ts("2026-11-02T10:00:00Z")
	evs := []*schemas.Event{
		{ID: "1", Source: "checkout", Type: schemas.TypeSaleCompleted, Subject: "p", Time: at,
			Data: &schemas.SaleCompleted{OrderID: "o1", BuyerID: "b", CourseID: "c", Currency: usd, Gross: d("59.00"), Tax: d("9.00")}},
		{ID: "2", Source: "checkout", Type: schemas.TypeRefundIssued, Subject: "p", Time: at.Add(time.Hour),
			Data: &schemas.RefundIssued{OrderID: "o1", RefundID: "r1", Currency: usd, Amount: d("29.50")}},
		{ID: "3", Source: "kyc", Type: schemas.TypeKYCVerified, Subject: "p", Time: at, Data: &schemas.KYCVerified{StripeAccount: "acct_1"}},
		{ID: "4", Source: "kyc", Type: schemas.TypeKYCRevoked, Subject: "p", Time: at.Add(time.Hour), Data: &schemas.KYCRevoked{}},
	}
	var in marketplace.Input
	for _, e := range evs {
		if err := in.AddEvent(e); err != nil {
			t.Fatal(err)
		}
	}
	if len(in.Sales) != 1 || len(in.Refunds) != 1 || len(in.KYC) != 2 {
		t.Fatalf("input %+v", in)
	}
	if in.Sales[0].EventID != evs[0].Identity().MsgID() || in.Sales[0].Provider != "p" || in.Sales[0].CourseID != "c" {
		t.Errorf("sale %+v", in.Sales[0])
	}
	if !in.KYC[0].Verified || in.KYC[0].StripeAccount != "acct_1" || in.KYC[1].Verified {
		t.Errorf("kyc %+v", in.KYC)
	}
	o, _ := derive(t, in).Order("o1")
	eq(t, "share after refund", o.Current.Share, "21.25")

	err := in.AddEvent(&schemas.Event{ID: "5", Type: schemas.TypeSeatAssigned, Data: &schemas.SeatChange{}})
	if !errors.Is(err, marketplace.ErrNotMarketplace) {
		t.Errorf("seat event: %v", err)
	}
}
