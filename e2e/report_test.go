package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/finance"
	"github.com/tally-billing/tally/payouts"
)

// financeViews are the views of migration 0004 (docs/finance.md).
var financeViews = []string{
	"finance_ai_allowance", "finance_ai_credits", "finance_billed_revenue", "finance_discounts",
	"finance_invoice_chain", "finance_invoices", "finance_marketplace", "finance_mrr", "finance_mrr_tenants",
	"finance_payout_chain", "finance_provider_balances", "finance_provider_liabilities", "finance_unbilled_tenants",
}

func (tl *tally) report(period string) finance.Report {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodGet, "/v1/reports?period="+period, tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("report %s: %d %s", period, status, body)
	}
	var r finance.Report
	if err := json.Unmarshal(body, &r); err != nil {
		tl.t.Fatal(err)
	}
	return r
}

// strings runs a query and returns each row's columns formatted with %v,
// joined by " ", sorted.
func (tl *tally) strings(query string, args ...any) []string {
	tl.t.Helper()
	rows, err := tl.ch.Query(context.Background(), query, args...)
	if err != nil {
		tl.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	cols := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			tl.t.Fatalf("%s: %v", query, err)
		}
		s := ""
		for i, v := range vals {
			if i > 0 {
				s += " "
			}
			switch x := reflect.ValueOf(v).Elem().Interface().(type) {
			case decimal.Decimal:
				s += x.String()
			case time.Time:
				s += x.UTC().Format(time.RFC3339)
			default:
				s += fmt.Sprint(x)
			}
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		tl.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func wantRows(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// TestReportOfASeededMonth checks every finance view on an empty database,
// then seeds November 2026 — SPEC §3's Team and Business tenants, an
// unsubscribed tenant, and the marketplace test's sales, refunds and two
// payout runs — and checks the views and GET /v1/reports against figures
// worked by hand in the comments.
func TestReportOfASeededMonth(t *testing.T) {
	stripe := newStripeRecorder(t)
	tl := startTally(t, withClock(december2), withStripe(stripe.URL))

	// Empty database: every view answers, with no rows, and the report has
	// empty sections (not null).
	got := tl.strings("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'finance\\_%'")
	wantRows(t, "finance views", got, financeViews...)
	for _, v := range financeViews {
		if n := tl.count("SELECT count() FROM " + v); n != 0 {
			t.Errorf("%s on an empty database: %d rows", v, n)
		}
	}
	empty := tl.report("2026-11")
	if empty.Period != "2026-11" || len(empty.BilledRevenue)+len(empty.BilledTotals)+len(empty.Discounts)+len(empty.MRR)+
		len(empty.AICredits)+len(empty.AIAllowance)+len(empty.Marketplace)+len(empty.Liabilities) != 0 {
		t.Errorf("report on an empty database: %+v", empty)
	}
	if status, _, body := tl.do(http.MethodGet, "/v1/reports", tl.finance, "", nil); status != http.StatusBadRequest {
		t.Errorf("report without a period: %d %s, want 400", status, body)
	}
	if status, _, _ := tl.do(http.MethodGet, "/v1/reports?period=2026-11", tl.ingest, "", nil); status != http.StatusForbidden {
		t.Errorf("report with the ingest key: %d, want 403", status)
	}

	run1, run2 := seedFinanceMonth(t, tl)

	r := tl.report("2026-11")

	// Billed revenue, invoices of 2026-11:
	//   team (monthly):   base 199.00, seats 15 × 4.00 + 2 × 15.00 = 90.00 (2 lines),
	//                     AI overage 1,250.5 × 0.018 = 22.51            → 311.51
	//   business upfront: base 12 × 499.00 = 5,988.00, committed 1,200 × 6.00 +
	//                     120 × 20.00 = 9,600.00 (2 lines), discount −20 % of
	//                     15,588.00 = −3,117.60                          → 12,470.40
	//   business monthly: learners 20 × 6.00 = 120.00, overage 5,000 × 0.015 = 75.00 → 195.00
	// total 311.51 + 12,470.40 + 195.00 = 12,976.91.
	var revenue []string
	for _, x := range r.BilledRevenue {
		revenue = append(revenue, fmt.Sprintf("%s %s %s %s %s %d %s", x.Currency, x.Plan, x.Term, x.InvoiceKind, x.Kind, x.Lines, x.Amount))
	}
	wantRows(t, "billed revenue", revenue,
		"USD team monthly monthly base 1 199.00",
		"USD team monthly monthly seats 2 90.00",
		"USD team monthly monthly ai_overage 1 22.51",
		"USD business annual upfront base 1 5988.00",
		"USD business annual upfront committed_seats 2 9600.00",
		"USD business annual upfront discount 1 -3117.60",
		"USD business annual monthly seats 1 120.00",
		"USD business annual monthly ai_overage 1 75.00",
	)
	if len(r.BilledTotals) != 1 || r.BilledTotals[0] != (finance.CurrencyAmount{Currency: "USD", Amount: "12976.91"}) {
		t.Errorf("billed totals %+v, want USD 12976.91", r.BilledTotals)
	}

	// Discounts: annual 20 % on 15,588.00 = 3,117.60; no multi-year.
	if len(r.Discounts) != 1 || r.Discounts[0] != (finance.DiscountRow{Currency: "USD", Plan: "business", Term: "annual",
		Rate: "0.2", Invoices: 1, DiscountedFees: "15588.00", DiscountGiven: "3117.60"}) {
		t.Errorf("discounts %+v, want annual 3117.60 on 15588.00", r.Discounts)
	}

	// MRR for November: team 199.00 a month (ARR 2,388.00); business
	// 12,470.40 ÷ 12 = 1,039.20 (ARR 12,470.40).
	wantMRR := []finance.MRRRow{
		{Currency: "USD", Plan: "business", Term: "annual", Tenants: 1, MRR: "1039.20", ARR: "12470.40"},
		{Currency: "USD", Plan: "team", Term: "monthly", Tenants: 1, MRR: "199.00", ARR: "2388.00"},
	}
	if !reflect.DeepEqual(r.MRR, wantMRR) {
		t.Errorf("MRR %+v, want %+v", r.MRR, wantMRR)
	}
	// The prepaid year runs 2026-11-01 to 2027-11-01: the business MRR is
	// in every month whose end falls in it (November to October), and only
	// there; December has no monthly invoice of the team tenant yet.
	wantRows(t, "business MRR months", tl.strings(
		"SELECT count(), min(period), max(period), sum(mrr) FROM finance_mrr_tenants WHERE tenant = 'tenant-biz'"),
		"12 2026-11 2027-10 12470.4")
	wantRows(t, "December MRR", tl.strings("SELECT plan, mrr FROM finance_mrr WHERE period = '2026-12'"), "business 1039.2")

	// AI credits by feature: tutor 6,000, translate 250.5 (team), co_author
	// 30,000 (business), search 42.5 on model m-1 (no subscription).
	var ai []string
	for _, x := range r.AICredits {
		ai = append(ai, fmt.Sprintf("%s/%s %d %d %s", x.Feature, x.Model, x.Tenants, x.Events, x.Credits))
	}
	wantRows(t, "AI credits", ai, "co_author/ 1 1 30000", "search/m-1 1 1 42.5", "translate/ 1 1 250.5", "tutor/ 1 1 6000")
	// Allowance: team 6,250.5 consumed, 5,000 included, 1,250.5 over
	// (22.51); business 30,000, 25,000 included, 5,000 over (75.00). USD:
	// 36,250.5 consumed, 30,000 allowance, 6,250.5 over, 97.51 billed. The
	// unsubscribed tenant's 42.5 are on no invoice: no allowance.
	wantAllowance := []finance.AIAllowanceRow{
		{Currency: "", Tenants: 1, CreditsConsumed: "42.5", AllowanceUsed: "0", FromPacks: "0", OverageCredits: "0", OverageBilled: "0"},
		{Currency: "USD", Tenants: 2, CreditsConsumed: "36250.5", AllowanceUsed: "30000", FromPacks: "0", OverageCredits: "6250.5", OverageBilled: "97.51"},
	}
	if !reflect.DeepEqual(r.AIAllowance, wantAllowance) {
		t.Errorf("AI allowance %+v, want %+v", r.AIAllowance, wantAllowance)
	}

	// Marketplace, November, from the ledger after the run of December 1:
	//   GMV 59.00 + 100.00 + 200.00 + 50.00 = 409.00 (4 sales)
	//   refunds r-1 29.50 + r-2 29.50 = 59.00 (o-1 fully refunded; r-big and
	//   r-ghost are not sent here)
	//   tax 9.00, all given back with the full refund → 0.00
	//   net 409.00 − 59.00 − 0.00 = 350.00
	//   fee: o-1 0.00 (reversed), o-2 15.00, o-3 30.00, o-4 7.50 = 52.50
	//   share: o-1 0.00, o-2 85.00, o-3 170.00, o-4 42.50 = 297.50 (fee + share = net)
	//   take rate 52.50 ÷ 350.00 = 0.15
	wantMarket := []finance.MarketplaceRow{{Currency: "USD", Sales: 4, Refunds: 2, GMV: "409.00", Refunded: "59.00", Tax: "0.00",
		Net: "350.00", PlatformFee: "52.50", ProviderShare: "297.50", TakeRate: "0.15"}}
	if !reflect.DeepEqual(r.Marketplace, wantMarket) {
		t.Errorf("marketplace %+v, want %+v", r.Marketplace, wantMarket)
	}

	// Liabilities at the end of November (bob's payout is dated Dec 1):
	//   ada: held 42.50 (o-4 until Dec 7), available 21.25 + 85.00 − 106.25
	//        (payout) − 21.25 (clawback of r-2) = −21.25, paid 106.25
	//   bob: held 0.00, available 170.00 (released Nov 15), paid 0.00
	// USD: held 42.50, available 148.75, paid 106.25, owed 191.25,
	// negative −21.25 (one provider).
	wantLiab := []finance.LiabilityRow{{Currency: "USD", Providers: 2, Held: "42.50", Available: "148.75", Paid: "106.25",
		OwedToProviders: "191.25", NegativeBalance: "-21.25", ProvidersNegative: 1}}
	if !reflect.DeepEqual(r.Liabilities, wantLiab) {
		t.Errorf("liabilities %+v, want %+v", r.Liabilities, wantLiab)
	}
	// At the end of December bob's 170.00 is paid.
	if d := tl.report("2026-12").Liabilities; len(d) != 1 || d[0].Available != "-21.25" || d[0].Paid != "276.25" {
		t.Errorf("December liabilities %+v, want available -21.25 and paid 276.25", d)
	}
	wantRows(t, "provider liabilities now", tl.strings(
		"SELECT provider, held, available, paid, negative_balance FROM finance_provider_liabilities"),
		"prov-ada 42.5 -21.25 106.25 -21.25", "prov-bob 0 0 170 0")

	// Reconciliation, billing: the team's overage line comes from its two
	// credit events (6,250.5 credits) and leads to its Stripe invoice.
	team := tl.invoices("tenant-team", "2026-11")
	if len(team) != 1 || team[0].StripeInvoiceID == "" {
		t.Fatalf("team invoice: %+v", team)
	}
	wantRows(t, "invoice chain of the team's overage", tl.strings(`
SELECT events, credits, amount, invoice_id, stripe_invoice_id FROM finance_invoice_chain
WHERE tenant = 'tenant-team' AND kind = 'ai_overage'`),
		fmt.Sprintf("2 6250.5 22.51 %s %s", team[0].ID, team[0].StripeInvoiceID))
	wantRows(t, "invoice chain of the business seats", tl.strings(`
SELECT meter, events, amount FROM finance_invoice_chain WHERE tenant = 'tenant-biz' AND kind = 'seats'`),
		"seats 130 120")

	// Reconciliation, marketplace: o-2's share (85.00) was paid by ada's
	// first payout and its transfer; o-1 left 42.50 − 21.25 = 21.25 in it;
	// o-3 went with bob's payout; o-4 is not paid out yet.
	p1, p2 := run1.Payouts[0], run2.Payouts[0]
	wantRows(t, "payout chain", tl.strings(`
SELECT order_id, gross, refunded, provider_share, payout_id, statement_amount, stripe_transfer_id FROM finance_payout_chain`),
		fmt.Sprintf("o-1 59 59 0 %s 21.25 %s", p1.ID, p1.StripeTransferID),
		fmt.Sprintf("o-2 100 0 85 %s 85 %s", p1.ID, p1.StripeTransferID),
		fmt.Sprintf("o-3 200 0 170 %s 170 %s", p2.ID, p2.StripeTransferID),
		"o-4 50 0 42.5  0 ",
	)

	// The unsubscribed tenant's usage is on no invoice of the closed month.
	wantRows(t, "unbilled tenants", tl.strings("SELECT period, tenant, period_closed, ai_credits FROM finance_unbilled_tenants"),
		"2026-11 tenant-nosub 1 42.5")
}

// seedFinanceMonth stores the finance month of the report and dashboard
// tests, closes November 2026 and makes the payout runs of November 20
// (ada's) and December 1 (bob's, once his KYC is verified):
//   - the worked examples' tenants, and tenant-nosub with 42.5 credits and
//     no subscription;
//   - prov-ada: o-1 59.00 (tax 9.00) refunded 29.50 twice, o-2 100.00 and
//     o-4 50.00, KYC verified on October 1;
//   - prov-bob: o-3 200.00, KYC verified on November 25.
func seedFinanceMonth(t *testing.T, tl *tally) (run1, run2 payouts.RunResult) {
	t.Helper()
	events := workedExampleEvents()
	events = append(events,
		// A tenant without a subscription: on no invoice.
		ev("ai-tutor", "nosub-c1", "ai.credits.consumed", "tenant-nosub", nov(4, 0), `{"credits":"42.5","feature":"search","model":"m-1"}`),
		kyc("kyc-ada", "prov-ada", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "acct_ada123"),
		sale("o-1", "prov-ada", nov(2, 10), "59.00", "9.00"),
		refund("r-1", "prov-ada", "o-1", nov(3, 10), "29.50"),
		sale("o-2", "prov-ada", nov(4, 10), "100.00", "0"),
		sale("o-3", "prov-bob", nov(1, 12), "200.00", "0"),
		kyc("kyc-bob", "prov-bob", nov(25, 0), "acct_bob456"),
	)
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("tenant-team", 1+15+2+2)
	tl.waitRows("tenant-biz", 1+120+10+1)
	tl.waitRows("tenant-nosub", 1)
	tl.waitRows("prov-ada", 4)
	tl.waitRows("prov-bob", 2)

	if res := tl.closePeriod("2026-11"); len(res.Invoices) != 3 {
		t.Fatalf("close: %d invoices, want 3", len(res.Invoices))
	}
	run1 = tl.runPayouts("2026-11-20T00:00:00Z")
	if len(run1.Payouts) != 1 || run1.Payouts[0].StripeTransferID == "" {
		t.Fatalf("run 1: %+v", run1.Payouts)
	}
	tl.mustAccept(2, 0, refund("r-2", "prov-ada", "o-1", nov(22, 0), "29.50"), sale("o-4", "prov-ada", nov(23, 0), "50.00", "0"))
	tl.waitRows("prov-ada", 6)
	run2 = tl.runPayouts("2026-12-01T00:00:00Z")
	if len(run2.Payouts) != 1 || run2.Payouts[0].Provider != "prov-bob" {
		t.Fatalf("run 2: %+v", run2.Payouts)
	}
	return run1, run2
}
