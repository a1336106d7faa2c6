package billing

import (
	"strings"
	"testing"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// TestCurrencyChangeIsDeadLettered: a subscription.changed from EUR to USD
// is left out of rating and dead-lettered (currency_change); the tenant is
// billed in EUR, and a cancel and a new start change the currency.
func TestCurrencyChangeIsDeadLettered(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	f.events.addSub("tenant-eur", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("team", schemas.TermMonthly, "EUR", nil))
	bad := f.events.addSub("tenant-eur", schemas.TypeSubscriptionChanged, at(2026, 11, 15, 0), sub("team", schemas.TermMonthly, "USD", nil))
	f.events.addSub("tenant-eur", schemas.TypeSubscriptionCanceled, at(2026, 11, 30, 0), nil)
	f.events.addSub("tenant-eur", schemas.TypeSubscriptionStarted, at(2026, 12, 1, 0), sub("team", schemas.TermMonthly, "USD", nil))
	// Two different starts at one instant: the one stored second is out.
	f.events.addSub("tenant-twice", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("team", schemas.TermMonthly, "USD", nil))
	dup := f.events.addSub("tenant-twice", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("starter", schemas.TermMonthly, "USD", nil))

	res := f.close("2026-11")
	if len(res.Failures) != 0 {
		t.Fatalf("failures %+v", res.Failures)
	}
	if len(f.rej.rejected) != 2 || !strings.HasPrefix(f.rej.rejected[bad], "currency_change") ||
		!strings.HasPrefix(f.rej.rejected[dup], "ambiguous_change") {
		t.Fatalf("dead-lettered %v; want the USD change as currency_change and the second start as ambiguous_change", f.rej.rejected)
	}
	// EUR team from 1 to 30 November (the USD change never happened):
	// 199.00 × 29/30 = 192.3666… → 192.37.
	nov := f.invoices("tenant-eur", "2026-11")
	if len(nov) != 1 || nov[0].Currency != "EUR" || nov[0].Total.String() != "192.37" {
		t.Fatalf("November: %+v; want 192.37 EUR", nov)
	}
	f.close("2026-12")
	// The new start after the cancel is in USD: 199.00 for December.
	dec := f.invoices("tenant-eur", "2026-12")
	if len(dec) != 1 || dec[0].Currency != "USD" || dec[0].Total.String() != "199" {
		t.Fatalf("December: %+v; want 199.00 USD", dec)
	}
	// Team won the instant: 199.00.
	if tw := f.invoices("tenant-twice", "2026-11"); len(tw) != 1 || tw[0].Total.String() != "199" {
		t.Errorf("tenant-twice November: %+v; want team's 199.00", tw)
	}
	if len(f.rej.rejected) != 2 {
		t.Errorf("dead-lettered %v after December's close; want the same two", f.rej.rejected)
	}
}
