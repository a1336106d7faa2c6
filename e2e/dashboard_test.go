package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tally-billing/tally/finance"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile for the test.
// A missing Chromium fails the test: the dashboard is not tested otherwise.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			t.Fatalf("chromium is not installed (%v): run `make test-deps`", err)
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

// artifactsDir is where tests leave files for people to look at:
// $TALLY_TEST_ARTIFACTS, else e2e/artifacts (gitignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TALLY_TEST_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestDashboardShowsASeededMonth seeds November 2026 as
// TestReportOfASeededMonth does (SPEC §3's Team and Business tenants, an
// unsubscribed tenant, the marketplace sales and refunds, two payout runs),
// opens /dashboard in a real headless Chromium, is refused with a wrong
// key, enters the finance key, and checks the figures the page shows
// against figures worked by hand. It leaves a screenshot in artifactsDir.
func TestDashboardShowsASeededMonth(t *testing.T) {
	ctx := browser(t)
	stripe := newStripeRecorder(t)
	tl := startTally(t, withClock(december2), withStripe(stripe.URL))

	run1, _ := seedFinanceMonth(t, tl)

	// The page itself needs no key; it asks for one.
	pg := page{t, ctx}
	waitState, eval := pg.waitState, pg.eval
	if err := chromedp.Do(ctx, chromedp.Navigate(tl.base+"/dashboard?from=2026-10&to=2026-11")); err != nil {
		t.Fatalf("opening the dashboard: %v", err)
	}
	waitState("key")
	if got := eval(`typeof Chart === 'undefined' ? 'missing' : Chart.version`); got == "missing" {
		t.Fatalf("the page has no Chart.js: this binary was built without dashboard/web/vendor; run make chartjs (make test does)")
	}

	// A wrong key is refused, forgotten, and asked for again.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#key"), "tk_finance_not-a-real-key-0123456789"),
		chromedp.Click(chromedp.CSS("#keyform button")),
	); err != nil {
		t.Fatal(err)
	}
	waitState("key-refused")
	if msg := eval(`document.getElementById('keyerror').innerText`); !strings.Contains(msg, "refused this key") {
		t.Errorf("wrong key: error %q, want it to say the key was refused", msg)
	}
	if eval(`document.getElementById('login').hidden ? 'hidden' : 'shown'`) != "shown" ||
		eval(`document.getElementById('board').hidden ? 'hidden' : 'shown'`) != "hidden" {
		t.Errorf("wrong key: the key form should be shown and the figures hidden")
	}
	if k := eval(`String(sessionStorage.getItem('tally.financeKey'))`); k != "null" {
		t.Errorf("wrong key kept in sessionStorage: %q", k)
	}

	// The finance key opens the dashboard and is kept for the tab.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#key"), tl.finance),
		chromedp.Click(chromedp.CSS("#keyform button")),
	); err != nil {
		t.Fatal(err)
	}
	waitState("loaded")
	if k := eval(`String(sessionStorage.getItem('tally.financeKey'))`); k != tl.finance {
		t.Errorf("sessionStorage holds %q, want the finance key", k)
	}

	// Headline figures of November 2026 (the range's last month), USD,
	// worked by hand from SPEC §3 (see TestReportOfASeededMonth):
	//   MRR: team monthly base 199.00 + business annual upfront net
	//        12,470.40 ÷ 12 = 1,039.20 → 1,238.20; ARR 12 × 1,238.20 = 14,858.40
	//   billed: team 199.00 + 90.00 + 22.51 = 311.51, business upfront
	//        5,988.00 + 9,600.00 − 3,117.60 = 12,470.40, business monthly
	//        120.00 + 75.00 = 195.00 → 12,976.91
	//   GMV 59.00 + 100.00 + 200.00 + 50.00 = 409.00; platform fee 15 % of
	//        the net kept: 0.00 + 15.00 + 30.00 + 7.50 = 52.50; take rate
	//        52.50 ÷ 350.00 = 15.00 %
	//   owed to providers at the end of November: held 42.50 + available
	//        148.75 = 191.25
	kpis := eval(`document.getElementById('kpis').innerText`)
	for _, want := range []string{
		"MRR · 2026-11", "1,238.20 USD", "ARR 14,858.40 USD",
		"Billed revenue · 2026-11", "12,976.91 USD",
		"Marketplace GMV · 2026-11", "409.00 USD", "platform fee 52.50 USD",
		"Take rate · 2026-11", "15.00 %",
		"Owed to providers · 2026-11", "191.25 USD",
	} {
		if !strings.Contains(kpis, want) {
			t.Errorf("headline figures lack %q:\n%s", want, kpis)
		}
	}

	// The charts plot the API's figures per month (October is empty).
	charts := map[string][]string{
		"chart-mrr":     {"business 0 1039.20", "team 0 199.00"},
		"chart-revenue": {"business 0 12665.40", "team 0 311.51"}, // business 12,470.40 + 195.00
		"chart-ai":      {"co_author 0 30000", "search 0 42.5", "translate 0 250.5", "tutor 0 6000"},
		"chart-gmv":     {"GMV 0 409.00", "Take rate % 0.00 15.00"},
		// paid: ada's first payout, 106.25 (SPEC §3: 85.00 + 21.25)
		"chart-liabilities": {"Owed to providers 0 191.25", "Held 0 42.50", "Available 0 148.75", "Paid out 0 106.25"},
	}
	for id, want := range charts {
		got := eval(`(() => { const c = Chart.getChart(document.getElementById('` + id + `'));
			return c ? c.data.datasets.map((d) => d.label + ' ' + d.strings.join(' ')).join('|') : 'no chart'; })()`)
		if got != strings.Join(want, "|") {
			t.Errorf("%s: got %q, want %q", id, got, strings.Join(want, "|"))
		}
	}

	// Latest invoices with their Stripe status, latest payouts with theirs.
	invoices := eval(`document.getElementById('invoices').tBodies[0].innerText`)
	for _, inv := range append(tl.invoices("tenant-team", "2026-11"), tl.invoices("tenant-biz", "2026-11")...) {
		if inv.StripeInvoiceID == "" || inv.Status != "sent" {
			t.Fatalf("invoice %s: status %s, Stripe id %q", inv.ID, inv.Status, inv.StripeInvoiceID)
		}
		if !strings.Contains(invoices, inv.ID) || !strings.Contains(invoices, inv.StripeInvoiceID) {
			t.Errorf("invoices table lacks %s / %s:\n%s", inv.ID, inv.StripeInvoiceID, invoices)
		}
	}
	for _, want := range []string{"311.51 USD", "12,470.40 USD", "195.00 USD", "sent"} {
		if !strings.Contains(invoices, want) {
			t.Errorf("invoices table lacks %q:\n%s", want, invoices)
		}
	}
	if n := eval(`String(document.getElementById('invoices').tBodies[0].rows.length)`); n != "3" {
		t.Errorf("invoices table: %s rows, want 3", n)
	}
	// Only ada's payout of Nov 20 is dated in the range (bob's is Dec 1).
	payoutRows := eval(`document.getElementById('payouts').tBodies[0].innerText`)
	p1 := run1.Payouts[0]
	for _, want := range []string{p1.ID, "prov-ada", "106.25 USD", p1.Status, p1.StripeTransferID, "2026-11-20"} {
		if !strings.Contains(payoutRows, want) {
			t.Errorf("payouts table lacks %q:\n%s", want, payoutRows)
		}
	}
	if n := eval(`String(document.getElementById('payouts').tBodies[0].rows.length)`); n != "1" {
		t.Errorf("payouts table: %s rows, want 1", n)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(artifactsDir(t), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s", shot)

	// Reloading the tab keeps the key: no second prompt.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitState("loaded")

	// The trend endpoint over November and December, read directly: a
	// month without a balance row for a provider carries its latest one.
	status, _, body := tl.do(http.MethodGet, "/v1/reports/trend?from=2026-11&to=2026-12", tl.finance, "", nil)
	if status != http.StatusOK {
		t.Fatalf("trend: %d %s", status, body)
	}
	var tr finance.Trend
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	// December: only the business prepaid year's 1,039.20 of MRR (the
	// team's December is not closed), nothing billed; liabilities: ada
	// carried from November (held 42.50, available −21.25, paid 106.25),
	// bob paid 170.00 on Dec 1 (available 0.00) → held 42.50, available
	// −21.25, paid 276.25, owed 21.25.
	var dec []string
	for _, x := range tr.Totals {
		if x.Period == "2026-12" {
			dec = append(dec, fmt.Sprintf("%s mrr %s billed %s gmv %s owed %s", x.Currency, x.MRR, x.Billed, x.GMV, x.OwedToProviders))
		}
	}
	wantRows(t, "December totals", dec, "USD mrr 1039.20 billed 0.00 gmv 0.00 owed 21.25")
	var liab []string
	for _, x := range tr.Liabilities {
		liab = append(liab, fmt.Sprintf("%s %s %d %s %s %s %d", x.Period, x.Currency, x.Providers, x.Held, x.Available, x.Paid, x.ProvidersNegative))
	}
	wantRows(t, "liabilities trend", liab,
		"2026-11 USD 2 42.50 148.75 106.25 1", "2026-12 USD 2 42.50 -21.25 276.25 1")
	var paid []string
	for _, p := range tr.Payouts {
		paid = append(paid, p.Provider+" "+p.Amount)
	}
	if fmt.Sprint(paid) != "[prov-bob 170.00 prov-ada 106.25]" {
		t.Errorf("payouts of November and December, newest first: %v, want bob 170.00 then ada 106.25", paid)
	}
}

// page drives a dashboard page open in the headless browser.
type page struct {
	t   *testing.T
	ctx context.Context
}

// waitState waits until the page says it is in state (body's
// data-state), and fails with the page's text otherwise.
func (p page) waitState(state string) {
	p.t.Helper()
	poll := chromedp.WithPollingTimeout(90 * time.Second)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](`document.body.dataset.state === '`+state+`'`, poll)); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.dataset.state + ': ' + document.body.innerText`))
		p.t.Fatalf("waiting for the page's state %q: %v; page: %s", state, err, text)
	}
}

// eval evaluates a JavaScript expression in the page, as a string.
func (p page) eval(expr string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s: %v", expr, err)
	}
	return s
}
