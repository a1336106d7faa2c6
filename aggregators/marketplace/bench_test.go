package marketplace_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// benchInput is 10,000 providers with three sales each (one refunded in
// part), all KYC-verified, and a previous payout run for half of them.
func benchInput(providers int) marketplace.Input {
	var in marketplace.Input
	base := ts("2026-11-01")
	for p := 0; p < providers; p++ {
		id := fmt.Sprintf("prov-%05d", p)
		in.KYC = append(in.KYC, marketplace.KYCChange{Provider: id, At: base, Verified: true, StripeAccount: "acct_" + id})
		for s := 0; s < 3; s++ {
			order := fmt.Sprintf("%s-o%d", id, s)
			at := base.Add(time.Duration(p%600+s*3600) * time.Second)
			in.Sales = append(in.Sales, marketplace.Sale{Provider: id, OrderID: order, At: at, Currency: usd, Gross: d("59.00"), Tax: d("9.00")})
		}
		in.Refunds = append(in.Refunds, marketplace.Refund{Provider: id, OrderID: id + "-o0", RefundID: "r1", At: base.Add(48 * time.Hour), Currency: usd, Amount: d("29.50")})
		if p%2 == 0 {
			in.Payouts = append(in.Payouts, marketplace.Payout{ID: "po_" + id, Provider: id, Currency: usd, At: ts("2026-11-20"), Amount: d("50.00"), Status: marketplace.PayoutPaid})
		}
	}
	return in
}

func BenchmarkRunPayouts10kProviders(b *testing.B) {
	in := benchInput(10_000)
	at := ts("2026-12-01")
	b.ReportAllocs()
	for b.Loop() {
		run, err := marketplace.RunPayouts(terms, in, at)
		if err != nil {
			b.Fatal(err)
		}
		if len(run.Payouts) != 10_000 {
			b.Fatalf("%d payouts", len(run.Payouts))
		}
	}
}
