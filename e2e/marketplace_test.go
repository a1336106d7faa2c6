package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/payouts"
)

func (tl *tally) balance(key, provider, asOf string) (int, payouts.Balances) {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodGet, "/v1/providers/"+provider+"/balance?as_of="+asOf, key, "", nil)
	var b payouts.Balances
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &b); err != nil {
			tl.t.Fatal(err)
		}
	}
	return status, b
}

func (tl *tally) runPayouts(asOf string) payouts.RunResult {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodPost, "/v1/payouts/run?as_of="+asOf, tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("payout run %s: %d %s", asOf, status, body)
	}
	var res payouts.RunResult
	if err := json.Unmarshal(body, &res); err != nil {
		tl.t.Fatal(err)
	}
	return res
}

func usd(t *testing.T, b payouts.Balances) (held, available, paid string) {
	t.Helper()
	for _, x := range b.Balances {
		if x.Currency == "USD" {
			return x.Held.StringFixed(2), x.Available.StringFixed(2), x.Paid.StringFixed(2)
		}
	}
	return "0.00", "0.00", "0.00"
}

func sale(id, provider string, at time.Time, gross, tax string) string {
	return saleIn(id, provider, at, gross, tax, "USD")
}

func saleIn(id, provider string, at time.Time, gross, tax, currency string) string {
	return ev("checkout", id, "marketplace.sale.completed", provider, at,
		fmt.Sprintf(`{"order_id":%q,"buyer_id":"buyer-1","course_id":"course-1","gross":%q,"tax":%q,"currency":%q}`, id, gross, tax, currency))
}

func refund(id, provider, order string, at time.Time, amount string) string {
	return ev("checkout", id, "marketplace.refund.issued", provider, at,
		fmt.Sprintf(`{"order_id":%q,"refund_id":%q,"amount":%q,"currency":"USD"}`, order, id, amount))
}

func kyc(id, provider string, at time.Time, account string) string {
	return ev("kyc", id, "provider.kyc.verified", provider, at, fmt.Sprintf(`{"stripe_account":%q}`, account))
}

// TestMarketplaceEndToEnd: SPEC's sale and refund for one provider, a
// second provider verified late, two payout runs, a refund after a payout,
// balances, statements, Stripe transfers counted, and provider isolation.
// Every figure is worked by hand from SPEC §3.
func TestMarketplaceEndToEnd(t *testing.T) {
	stripe := newStripeRecorder(t)
	keysOpt, pkeys := withProviderKeys(t, "prov-ada", "prov-bob")
	tl := startTally(t, withClock(december2), withStripe(stripe.URL), keysOpt)
	tl.ingest = "ingest-key-for-the-marketplace-test"
	tl.finance = "finance-key-for-the-marketplace-test"

	events := []string{
		kyc("kyc-ada", "prov-ada", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "acct_ada123"),
		// gross 59.00, tax 9.00 → net 50.00, fee 7.50, share 42.50
		sale("o-1", "prov-ada", nov(2, 10), "59.00", "9.00"),
		// refund 29.50 → remaining net 25.00, fee 3.75, share 21.25
		refund("r-1", "prov-ada", "o-1", nov(3, 10), "29.50"),
		// gross 100.00, no tax → fee 15.00, share 85.00
		sale("o-2", "prov-ada", nov(4, 10), "100.00", "0"),
		// bob: gross 200.00 → share 170.00; verified only on the 25th
		sale("o-3", "prov-bob", nov(1, 12), "200.00", "0"),
		kyc("kyc-bob", "prov-bob", nov(25, 0), "acct_bob456"),
	}
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("prov-ada", 4)
	tl.waitRows("prov-bob", 2)

	// Held until sale time + 14 days, to the second.
	_, b := tl.balance(tl.finance, "prov-ada", "2026-11-10T00:00:00Z")
	if h, a, _ := usd(t, b); h != "106.25" || a != "0.00" {
		t.Errorf("ada on the 10th: held %s available %s, want 106.25 and 0.00", h, a)
	}
	_, b = tl.balance(tl.finance, "prov-ada", "2026-11-16T09:59:59Z")
	if h, a, _ := usd(t, b); h != "106.25" || a != "0.00" {
		t.Errorf("ada one second before o-1's window ends: held %s available %s", h, a)
	}
	_, b = tl.balance(tl.finance, "prov-ada", "2026-11-16T10:00:00Z")
	if h, a, _ := usd(t, b); h != "85.00" || a != "21.25" {
		t.Errorf("ada when o-1's window ends: held %s available %s, want 85.00 and 21.25", h, a)
	}

	// Run 1, as of the 20th: ada (verified, 106.25 ≥ 50) is paid; bob is
	// not verified yet and carries 170.00.
	run1 := tl.runPayouts("2026-11-20T00:00:00Z")
	if len(run1.Payouts) != 1 || run1.Payouts[0].Provider != "prov-ada" || run1.Payouts[0].Amount.StringFixed(2) != "106.25" ||
		run1.Payouts[0].Status != payouts.StatusPaid || run1.Payouts[0].Account != "acct_ada123" {
		t.Fatalf("run 1: %+v", run1.Payouts)
	}
	var sum string
	total := run1.Payouts[0].Amount.Sub(run1.Payouts[0].Amount)
	for _, l := range run1.Payouts[0].Statement {
		total = total.Add(l.Amount)
	}
	sum = total.StringFixed(2)
	if sum != "106.25" {
		t.Errorf("ada's statement sums to %s, want 106.25: %+v", sum, run1.Payouts[0].Statement)
	}
	again := tl.runPayouts("2026-11-20T00:00:00Z")
	if !again.AlreadyRun || len(again.Payouts) != 1 {
		t.Errorf("re-run: %+v", again)
	}

	// After the payout ada refunds the rest of o-1 (29.50): its share of
	// 21.25 was paid, so available goes to −21.25 (clawback), and a new sale
	// of 50.00 stays held until December 7.
	tl.mustAccept(2, 0, refund("r-2", "prov-ada", "o-1", nov(22, 0), "29.50"), sale("o-4", "prov-ada", nov(23, 0), "50.00", "0"))
	tl.waitRows("prov-ada", 6)
	// Two refunds that can never apply: more than bob's sale, and one for
	// an order that does not exist.
	tl.mustAccept(2, 0, refund("r-big", "prov-bob", "o-3", nov(26, 0), "500.00"), refund("r-ghost", "prov-bob", "o-none", nov(10, 0), "5.00"))
	tl.waitRows("prov-bob", 4)

	run2 := tl.runPayouts("2026-12-01T00:00:00Z")
	if len(run2.Payouts) != 1 || run2.Payouts[0].Provider != "prov-bob" || run2.Payouts[0].Amount.StringFixed(2) != "170.00" {
		t.Fatalf("run 2: %+v", run2.Payouts)
	}
	for _, id := range []string{"r-big", "r-ghost"} {
		waitFor(t, time.Minute, "refund "+id+" in dead_letters", func() bool {
			return tl.count("SELECT count() FROM dead_letters WHERE id = ? AND reason LIKE 'rejecting refund%'", id) == 1
		})
	}
	_, b = tl.balance(tl.finance, "prov-ada", "2026-12-01T00:00:00Z")
	if h, a, p := usd(t, b); h != "42.50" || a != "-21.25" || p != "106.25" {
		t.Errorf("ada on Dec 1: held %s available %s paid %s, want 42.50, -21.25, 106.25", h, a, p)
	}

	// Stripe: exactly one transfer per payout, nothing more on re-runs.
	if n := stripe.count("POST /v1/transfers"); n != 2 {
		t.Errorf("%d transfers created, want 2 (%v)", n, stripe.snapshot())
	}

	// Provider isolation: a provider reads only its own data; another
	// provider's is 404, not 403.
	if status, _ := tl.balance(pkeys["prov-ada"], "prov-ada", "2026-12-01"); status != http.StatusOK {
		t.Errorf("ada reading its own balance: %d", status)
	}
	if status, _ := tl.balance(pkeys["prov-ada"], "prov-bob", "2026-12-01"); status != http.StatusNotFound {
		t.Errorf("ada reading bob's balance: %d, want 404", status)
	}
	for _, path := range []string{"/v1/payouts?provider=prov-bob", "/v1/providers/prov-bob/balance"} {
		if status, _, _ := tl.do(http.MethodGet, path, pkeys["prov-ada"], "", nil); status != http.StatusNotFound {
			t.Errorf("ada GET %s: %d, want 404", path, status)
		}
	}
	status, _, body := tl.do(http.MethodGet, "/v1/payouts", pkeys["prov-ada"], "", nil)
	var own struct {
		Payouts []payouts.Payout `json:"payouts"`
	}
	if err := json.Unmarshal(body, &own); status != http.StatusOK || err != nil {
		t.Fatalf("ada's payouts: %d %s", status, body)
	}
	for _, p := range own.Payouts {
		if p.Provider != "prov-ada" {
			t.Errorf("ada sees a payout of %s", p.Provider)
		}
	}
	if len(own.Payouts) != 1 {
		t.Errorf("ada sees %d payouts, want 1", len(own.Payouts))
	}
	for _, path := range []string{"/v1/invoices", "/v1/tenants/t/usage"} {
		if status, _, _ := tl.do(http.MethodGet, path, pkeys["prov-ada"], "", nil); status != http.StatusForbidden {
			t.Errorf("provider key GET %s: %d, want 403", path, status)
		}
	}
	if status, _, _ := tl.do(http.MethodPost, "/v1/payouts/run?as_of=2026-12-01", pkeys["prov-ada"], "", nil); status != http.StatusForbidden {
		t.Errorf("provider key running payouts: %d, want 403", status)
	}
}

// TestPayoutDryRun runs payouts without a Stripe key: the payout is
// decided, recorded as not_sent, and counts as paid out.
func TestPayoutDryRun(t *testing.T) {
	tl := startTally(t, withClock(december2))
	tl.mustAccept(2, 0, kyc("dry-kyc", "prov-dry", nov(1, 0), "acct_dry1"), sale("dry-o", "prov-dry", nov(2, 0), "80.00", "0"))
	tl.waitRows("prov-dry", 2)
	run := tl.runPayouts("2026-11-30T00:00:00Z")
	// gross 80.00 → fee 12.00, share 68.00, available from Nov 16.
	if len(run.Payouts) != 1 || run.Payouts[0].Status != payouts.StatusNotSent || run.Payouts[0].Amount.StringFixed(2) != "68.00" {
		t.Fatalf("dry run: %+v", run.Payouts)
	}
	if _, b := tl.balance(tl.finance, "prov-dry", "2026-12-01T00:00:00Z"); true {
		if h, a, p := usd(t, b); h != "0.00" || a != "0.00" || p != "68.00" {
			t.Errorf("after a dry run: held %s available %s paid %s, want 0, 0, 68.00", h, a, p)
		}
	}
}

// TestRefusedTransfer: Stripe refuses the transfer (4xx): the payout is
// failed with the reason, the money is available again, and once Stripe
// accepts, the next run pays it.
func TestRefusedTransfer(t *testing.T) {
	stripe := newStripeRecorder(t)
	stripe.refuseCall("POST /v1/transfers")
	tl := startTally(t, withClock(december2), withStripe(stripe.URL))
	tl.mustAccept(2, 0, kyc("rf-kyc", "prov-rf", nov(1, 0), "acct_rf1"), sale("rf-o", "prov-rf", nov(2, 0), "80.00", "0"))
	tl.waitRows("prov-rf", 2)

	run := tl.runPayouts("2026-11-20T00:00:00Z")
	if len(run.Payouts) != 1 || run.Payouts[0].Status != payouts.StatusFailed || run.Payouts[0].StatusReason == "" {
		t.Fatalf("refused transfer: %+v", run.Payouts)
	}
	if n := stripe.count("POST /v1/transfers"); n != 1 {
		t.Errorf("a 4xx was tried %d times, want once", n)
	}
	// The refusal happened at the daemon's now (December 2): from then on
	// the money is available again.
	if _, b := tl.balance(tl.finance, "prov-rf", "2026-12-02T02:00:00Z"); true {
		if _, a, p := usd(t, b); a != "68.00" || p != "0.00" {
			t.Errorf("after the refusal: available %s paid %s, want 68.00 and 0.00", a, p)
		}
	}
	stripe.acceptAll()
	run = tl.runPayouts("2026-12-02T02:00:00Z")
	if len(run.Payouts) != 1 || run.Payouts[0].Status != payouts.StatusPaid || run.Payouts[0].Amount.StringFixed(2) != "68.00" {
		t.Fatalf("second run: %+v", run.Payouts)
	}
	if l := run.Payouts[0].Statement; len(l) == 0 || l[len(l)-1].Kind != "returned_payout" {
		t.Errorf("the statement should show the returned payout: %+v", l)
	}
}

// TestEveryCurrencyPaysOut: providers selling in KWD and BHD (3 minor-unit
// digits) and KRW (none), currencies the shipped book has no own minimum
// for, are paid from the default minimum of 50 units; one below it carries
// over until a later sale lifts it; re-runs pay nothing twice. Figures by
// hand from SPEC §3: net = gross − tax, fee = round_half_even(net × 15 %)
// to the currency's digits, share = net − fee, available 14 days after
// the sale.
func TestEveryCurrencyPaysOut(t *testing.T) {
	stripe := newStripeRecorder(t)
	tl := startTally(t, withClock(time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)), withStripe(stripe.URL))
	providers := []string{"p-kwd", "p-krw", "p-bhd", "p-bhd-small"}
	var events []string
	for _, p := range providers {
		events = append(events, kyc("kyc-"+p, p, nov(1, 0), "acct_"+strings.ReplaceAll(p, "-", "")))
	}
	events = append(events,
		// net 134.120, fee 134.120 × 0.15 = 20.118, share 114.002
		saleIn("o-kwd", "p-kwd", nov(2, 10), "134.120", "0", "KWD"),
		// net 90910, fee 13636.5 → 13636 (half to even), share 77274
		saleIn("o-krw", "p-krw", nov(2, 10), "90910", "0", "KRW"),
		// net 70.005, fee 10.50075 → 10.501, share 59.504
		saleIn("o-bhd", "p-bhd", nov(2, 10), "70.005", "0", "BHD"),
		// net 55.000 − 5.000 = 50.000, fee 7.500, share 42.500 < 50.000
		saleIn("o-bhd-s1", "p-bhd-small", nov(2, 10), "55.000", "5.000", "BHD"),
		// fee 3.000, share 17.000, available from December 4, 10:00
		saleIn("o-bhd-s2", "p-bhd-small", nov(20, 10), "20.000", "0", "BHD"),
	)
	tl.mustAccept(len(events), 0, events...)
	for _, p := range providers {
		n := uint64(2)
		if p == "p-bhd-small" {
			n = 3
		}
		tl.waitRows(p, n)
	}
	format := func(d decimal.Decimal, code string) string {
		c, err := money.LookupCurrency(code)
		if err != nil {
			t.Fatal(err)
		}
		return c.Format(d) + " " + code
	}
	paid := func(run payouts.RunResult) map[string]string {
		out := map[string]string{}
		for _, p := range run.Payouts {
			out[p.Provider] = format(p.Amount, p.Currency)
			sum := p.Amount.Sub(p.Amount)
			for _, l := range p.Statement {
				sum = sum.Add(l.Amount)
			}
			if !sum.Equal(p.Amount) {
				t.Errorf("%s: statement sums to %s, payout %s", p.Provider, sum, p.Amount)
			}
		}
		return out
	}
	want1 := map[string]string{"p-kwd": "114.002 KWD", "p-krw": "77274 KRW", "p-bhd": "59.504 BHD"}
	run1 := tl.runPayouts("2026-12-01T00:00:00Z")
	if got := paid(run1); !maps.Equal(got, want1) {
		t.Fatalf("run of December 1 paid %v; want %v", got, want1)
	}
	// p-bhd-small: 42.500 available (below 50.000, carried), 17.000 held.
	balance := func(provider, asOf string) string {
		_, b := tl.balance(tl.finance, provider, asOf)
		if len(b.Balances) != 1 {
			t.Fatalf("%s as of %s: %+v; want one currency", provider, asOf, b.Balances)
		}
		x := b.Balances[0]
		return fmt.Sprintf("held %s, available %s, paid %s", format(x.Held, x.Currency), format(x.Available, x.Currency), format(x.Paid, x.Currency))
	}
	if got, want := balance("p-bhd-small", "2026-12-01T00:00:00Z"), "held 17.000 BHD, available 42.500 BHD, paid 0.000 BHD"; got != want {
		t.Errorf("p-bhd-small on December 1: %s; want %s", got, want)
	}
	if again := tl.runPayouts("2026-12-01T00:00:00Z"); !again.AlreadyRun || !maps.Equal(paid(again), want1) {
		t.Errorf("re-run of December 1: %+v", again)
	}

	// December 5: the second sale is available, 42.500 + 17.000 = 59.500
	// ≥ 50.000; the others have nothing left.
	want2 := map[string]string{"p-bhd-small": "59.500 BHD"}
	if got := paid(tl.runPayouts("2026-12-05T00:00:00Z")); !maps.Equal(got, want2) {
		t.Fatalf("run of December 5 paid %v; want %v", got, want2)
	}
	if again := tl.runPayouts("2026-12-05T00:00:00Z"); !again.AlreadyRun || !maps.Equal(paid(again), want2) {
		t.Errorf("re-run of December 5: %+v", again)
	}
	for p, want := range map[string]string{
		"p-kwd":       "held 0.000 KWD, available 0.000 KWD, paid 114.002 KWD",
		"p-krw":       "held 0 KRW, available 0 KRW, paid 77274 KRW",
		"p-bhd":       "held 0.000 BHD, available 0.000 BHD, paid 59.504 BHD",
		"p-bhd-small": "held 0.000 BHD, available 0.000 BHD, paid 59.500 BHD",
	} {
		if got := balance(p, "2026-12-05T00:00:00Z"); got != want {
			t.Errorf("%s on December 5: %s; want %s", p, got, want)
		}
	}
	// One transfer per payout, none for a re-run.
	if n := stripe.count("POST /v1/transfers"); n != 4 {
		t.Errorf("%d transfers, want 4 (%v)", n, stripe.snapshot())
	}
}

// TestBalanceOfAnOrderClaimedByAnotherProvider: a provider's balance is
// derived from its own events only, except for the sales of other
// providers that use one of its order ids: the earliest sale of an order
// id claims it (SPEC §1: nothing is billed twice), so prov-late's sale of
// "shared-o" and its refund are rejected, whichever balance is asked.
func TestBalanceOfAnOrderClaimedByAnotherProvider(t *testing.T) {
	tl := startTally(t, withClock(december2))
	tl.mustAccept(5, 0,
		// prov-first sells order shared-o first: gross 59.00, tax 9.00 →
		// net 50.00, fee 7.50, share 42.50.
		saleWithOrder("claim-1", "prov-first", "shared-o", nov(2, 10), "59.00", "9.00"),
		// prov-late sells the same order id a day later (rejected) and
		// refunds it (rejected: the order is prov-first's).
		saleWithOrder("claim-2", "prov-late", "shared-o", nov(3, 10), "100.00", "0"),
		refund("claim-r", "prov-late", "shared-o", nov(4, 10), "10.00"),
		// prov-late's own order: gross 80.00, no tax → fee 12.00, share 68.00.
		sale("late-own", "prov-late", nov(5, 10), "80.00", "0"),
		// prov-first refunds 29.50 of its order → share 21.25 (SPEC §3).
		refund("claim-r2", "prov-first", "shared-o", nov(6, 10), "29.50"),
	)
	tl.waitRows("prov-first", 2)
	tl.waitRows("prov-late", 3)
	// On Nov 10 everything is still held (14 days).
	_, b := tl.balance(tl.finance, "prov-late", "2026-11-10T00:00:00Z")
	if h, a, p := usd(t, b); h != "68.00" || a != "0.00" || p != "0.00" {
		t.Errorf("prov-late: held %s available %s paid %s, want 68.00 (its own order only), 0.00, 0.00", h, a, p)
	}
	_, b = tl.balance(tl.finance, "prov-first", "2026-11-10T00:00:00Z")
	if h, a, p := usd(t, b); h != "21.25" || a != "0.00" || p != "0.00" {
		t.Errorf("prov-first: held %s available %s paid %s, want 21.25, 0.00, 0.00", h, a, p)
	}
}

func saleWithOrder(id, provider, order string, at time.Time, gross, tax string) string {
	return ev("checkout", id, "marketplace.sale.completed", provider, at,
		fmt.Sprintf(`{"order_id":%q,"buyer_id":"buyer-1","course_id":"course-1","gross":%q,"tax":%q,"currency":"USD"}`, order, gross, tax))
}
