package e2e

import (
	"fmt"
	"sort"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// TestProviderBalancesOfTheViewsMatchTheAPI seeds the report's marketplace
// month (sales, refunds during and after the hold, KYC, the payout runs of
// November 20 and December 1, a refund after the first payout) and checks,
// for every provider and currency, that the balance the finance views
// compute from the stored ledger equals GET /v1/providers/{p}/balance to
// the minor unit, at the latest run and at the end of November. The views
// read the ledger the runs stored (entries up to the latest run's as-of
// time), the API derives it from the events: both at instants up to the
// latest run, where the stored ledger is complete.
//
// Worked by hand (SPEC §3, hold 14 days, fee 15 %):
//
//	prov-ada, KYC verified 2026-10-01
//	  o-1 Nov 2 10:00 gross 59.00 tax 9.00: net 50.00, fee 7.50, share 42.50 held
//	  r-1 Nov 3 10:00 29.50 (held): remaining net round(29.50 × 50 ÷ 59) = 25.00,
//	      share 21.25: −21.25 held
//	  o-2 Nov 4 10:00 gross 100.00: fee 15.00, share 85.00 held
//	  releases Nov 16 10:00 (21.25) and Nov 18 10:00 (85.00): available 106.25
//	  run Nov 20: pays 106.25 → available 0.00, paid 106.25
//	  r-2 Nov 22 29.50 (after release and payout): share 21.25 → 0.00, −21.25,
//	      all of it clawback → available −21.25
//	  o-4 Nov 23 gross 50.00: fee 7.50, share 42.50 held until Dec 7
//	  end of November and Dec 1: held 42.50, available −21.25, paid 106.25
//	  (run Dec 1: negative balance, nothing paid)
//	prov-bob, KYC verified Nov 25
//	  o-3 Nov 1 12:00 gross 200.00: fee 30.00, share 170.00, released Nov 15 12:00
//	  run Nov 20: not verified, carried; end of November: held 0.00,
//	  available 170.00, paid 0.00
//	  run Dec 1: pays 170.00 → held 0.00, available 0.00, paid 170.00
func TestProviderBalancesOfTheViewsMatchTheAPI(t *testing.T) {
	stripe := newStripeRecorder(t)
	tl := startTally(t, withClock(december2), withStripe(stripe.URL))
	seedFinanceMonth(t, tl)

	for _, tt := range []struct {
		what, view, asOf string
		want             []string
	}{
		{"latest run (Dec 1)", "SELECT provider, currency, held, available, paid FROM finance_provider_liabilities",
			"2026-12-01T00:00:00Z",
			[]string{"prov-ada USD 42.50 -21.25 106.25", "prov-bob USD 0.00 0.00 170.00"}},
		{"end of November", "SELECT provider, currency, held, available, paid FROM finance_provider_balances WHERE period = '2026-11'",
			"2026-11-30T23:59:59.999999999Z",
			[]string{"prov-ada USD 42.50 -21.25 106.25", "prov-bob USD 0.00 170.00 0.00"}},
	} {
		// The view, with each amount at the currency's minor unit: the
		// ledger keeps 9 decimals, so a cent off would show.
		var view []string
		rows, err := tl.ch.Query(t.Context(), tt.view)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b struct {
				provider, currency string
				held, avail, paid  decimal.Decimal
			}
			if err := rows.Scan(&b.provider, &b.currency, &b.held, &b.avail, &b.paid); err != nil {
				t.Fatal(err)
			}
			view = append(view, fmt.Sprintf("%s %s %s %s %s", b.provider, b.currency,
				money.FormatCode(b.held, b.currency), money.FormatCode(b.avail, b.currency), money.FormatCode(b.paid, b.currency)))
		}
		rows.Close()
		var api []string
		for _, p := range []string{"prov-ada", "prov-bob"} {
			_, bs := tl.balance(tl.finance, p, tt.asOf)
			for _, b := range bs.Balances {
				api = append(api, fmt.Sprintf("%s %s %s %s %s", p, b.Currency,
					money.FormatCode(b.Held, b.Currency), money.FormatCode(b.Available, b.Currency), money.FormatCode(b.Paid, b.Currency)))
			}
		}
		sort.Strings(view)
		sort.Strings(api)
		wantRows(t, tt.what+": the views", view, tt.want...)
		wantRows(t, tt.what+": the API", api, tt.want...)
	}
}
