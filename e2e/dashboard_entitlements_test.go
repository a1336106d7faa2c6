package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDashboardShowsATenantsEntitlements seeds a Team tenant at its
// learner limit with an AI cap, opens /dashboard/tenant.html in a real
// headless Chromium, enters the finance key and checks the gauges and the
// matrix against SPEC §2 and §6 worked by hand: Team limits learners at 50
// and authors at 5, includes 5,000 AI credits a month, offers sso_scim
// not at all and marketplace_seller as opt_in. It leaves a screenshot in
// artifactsDir.
func TestDashboardShowsATenantsEntitlements(t *testing.T) {
	ctx := browser(t)
	tl := startTally(t, withClock(entNow))
	events := []string{
		subStart("dash-start", "tenant-dash", "team", nov(1, 0), ""),
		capSet("dash-cap", "tenant-dash", "1000", nov(1, 1)),
		flagSet("dash-flag", "tenant-dash", "beta_reports", true, nov(1, 2)),
		credits("dash-c1", "tenant-dash", nov(5, 0), "600", "tutor"),
	}
	events = append(events, seatEvents("dash-l", "tenant-dash", "learner", 50, nov(2, 0))...)
	events = append(events, seatEvents("dash-a", "tenant-dash", "author", 2, nov(2, 0))...)
	tl.mustAccept(len(events), 0, events...)

	pg := page{t, ctx}
	waitState, eval := pg.waitState, pg.eval
	if err := chromedp.Do(ctx, chromedp.Navigate(tl.base+"/dashboard/tenant.html?tenant=tenant-dash")); err != nil {
		t.Fatalf("opening the page: %v", err)
	}
	waitState("key")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#key"), tl.finance),
		chromedp.Click(chromedp.CSS("#keyform button")),
	); err != nil {
		t.Fatal(err)
	}
	waitState("loaded")

	plan := eval(`document.getElementById('plan').innerText`)
	for _, want := range []string{"team", "term monthly, USD", "none", "600"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan cards lack %q:\n%s", want, plan)
		}
	}
	gauge := func(id string) string {
		return eval(`(() => { const g = document.querySelector('[data-gauge="` + id + `"]'); if (!g) return 'missing';
			const m = g.querySelector('meter'); return (m ? m.value + '/' + m.max + ' ' : '') + g.innerText.replace(/\n/g, ' | '); })()`)
	}
	for id, want := range map[string]string{
		"seats.learner":        "50/50 Learner seats | 50 / 50 | 0 remaining, 0 included",
		"seats.author":         "2/5 Author seats | 2 / 5 | 3 remaining, 0 included",
		"ai_credits.allowance": "600/5000 AI credits vs allowance · 2026-11 | 600 / 5,000 | 4,400 before overage (pack credits left 0)",
		"ai_credits.cap":       "600/1000 AI credits vs cap | 600 / 1,000 | 400 before the cap",
	} {
		if got := gauge(id); got != want {
			t.Errorf("gauge %s: got %q, want %q", id, got, want)
		}
	}
	row := func(capability string) string {
		return eval(`(() => { for (const r of document.getElementById('matrix').tBodies[0].rows)
			if (r.cells[0].innerText === '` + capability + `') return [...r.cells].map((c) => c.innerText).join(' | ');
			return 'missing'; })()`)
	}
	for capability, want := range map[string]string{
		"sso_scim":           "sso_scim | not_available | no | not_available",
		"marketplace_seller": "marketplace_seller | opt_in | no | not_opted_in",
		"api_keys_webhooks":  "api_keys_webhooks | webhooks_only | yes | included",
		"support_sla":        "support_sla | 1_business_day | yes | included",
	} {
		if got := row(capability); got != want {
			t.Errorf("matrix row %s: got %q, want %q", capability, got, want)
		}
	}
	if n := eval(`String(document.getElementById('matrix').tBodies[0].rows.length)`); n != "19" {
		t.Errorf("matrix: %s rows, want 19", n)
	}
	if flags := eval(`document.getElementById('flags').tBodies[0].innerText`); !strings.Contains(flags, "flag beta_reports") || !strings.Contains(flags, "on") {
		t.Errorf("flags table: %q, want beta_reports on", flags)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(artifactsDir(t), "dashboard-entitlements.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("entitlements page screenshot: %s", shot)
}
