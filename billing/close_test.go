package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// teamNovember stores SPEC §3's first worked example for tenant: Team,
// monthly, USD, started 2026-11-01; 15 learners and 2 authors from
// 2 November; 6,250.5 AI credits (6,000 on the 3rd, 250.5 on the 4th).
// November bills base 199.00 + 15 × 4.00 = 60.00 + 2 × 15.00 = 30.00 +
// (6,250.5 − 5,000) × 0.018 = 22.509 → 22.51: 311.51.
func teamNovember(f *fixture, tenant string) {
	f.events.addSub(tenant, schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("team", schemas.TermMonthly, "USD", nil))
	for i := range 15 {
		f.events.addSeat(tenant, at(2026, 11, 2, 0), fmt.Sprintf("l%d", i), "learner", true)
	}
	for i := range 2 {
		f.events.addSeat(tenant, at(2026, 11, 2, 0), fmt.Sprintf("a%d", i), "author", true)
	}
	f.events.addCredits(tenant, at(2026, 11, 3, 0), "6000")
	f.events.addCredits(tenant, at(2026, 11, 4, 0), "250.5")
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func closes(t *testing.T, s *Service, outcome string) float64 {
	t.Helper()
	return counter(t, s.cfg.Metrics.Closes.WithLabelValues(outcome))
}

// onlyInvoice returns the one invoice of res, or fails.
func onlyInvoice(t *testing.T, invs []Invoice) Invoice {
	t.Helper()
	if len(invs) != 1 {
		t.Fatalf("%d invoices, want one: %+v", len(invs), invs)
	}
	return invs[0]
}

func TestClosePeriodRefusesAPeriodNotEnded(t *testing.T) {
	nov := Period{Year: 2026, Month: time.November}
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"a second before the end", nov.End().Add(-time.Second), ErrPeriodOpen},
		{"in the middle", at(2026, 11, 15, 0), ErrPeriodOpen},
		{"at the end", nov.End(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, pricebook.Default())
			teamNovember(f, "acme")
			f.now = tt.now
			_, err := f.svc.ClosePeriod(context.Background(), nov)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			closed, _ := f.svc.IsClosed(context.Background(), nov)
			if closed != (tt.wantErr == nil) || (f.store.saved > 0) != (tt.wantErr == nil) {
				t.Errorf("closed %v with %d invoices saved", closed, f.store.saved)
			}
		})
	}
}

// A close rates, stores, records and sends; a re-close sends nothing again
// and stores nothing new; the next month's send names the customer saved
// by the first.
func TestClosePeriodStoresRecordsAndSendsOnce(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	f.sender = newFakeSender()
	f.restart(pricebook.Default())
	teamNovember(f, "acme")

	res := f.close("2026-11")
	inv := onlyInvoice(t, res.Invoices)
	if res.AlreadyClosed || len(res.Failures) != 0 || res.Period != "2026-11" {
		t.Errorf("result %+v", res)
	}
	// 199.00 + 60.00 + 30.00 + 22.51 = 311.51 (teamNovember).
	if inv.Total.StringFixed(2) != "311.51" || inv.Status != StatusSent {
		t.Fatalf("November: %s %s, want 311.51 sent", inv.Total, inv.Status)
	}
	if inv.StripeCustomerID != "cus_acme" || inv.StripeInvoiceID != "in_"+inv.ID || f.store.customers["acme"] != "cus_acme" {
		t.Errorf("ids %q %q, customer saved %q", inv.StripeCustomerID, inv.StripeInvoiceID, f.store.customers["acme"])
	}
	if stored := onlyInvoice(t, f.invoices("acme", "2026-11")); stored.Status != StatusSent {
		t.Errorf("stored status %s, want sent", stored.Status)
	}
	held := f.sender.held[inv.ID]
	var got []string
	for _, l := range held.Lines {
		got = append(got, l.ID+" "+l.Amount.StringFixed(2))
	}
	if want := "L1 199.00, L2 60.00, L3 30.00, L4 22.51"; strings.Join(got, ", ") != want || held.Currency.Code != "USD" || held.Period != "2026-11" {
		t.Errorf("sent %s %s lines %q, want USD 2026-11 %q", held.Currency.Code, held.Period, got, want)
	}
	if f.store.closed["2026-11"] != f.now {
		t.Errorf("recorded closed at %v, want %v", f.store.closed["2026-11"], f.now)
	}
	if counter(t, f.svc.cfg.Metrics.Finalized) != 1 || counter(t, f.svc.cfg.Metrics.Sent) != 1 || closes(t, f.svc, "closed") != 1 {
		t.Error("metrics: want 1 finalized, 1 sent, 1 close")
	}

	// Every tenant was rated, so a re-close answers from what is stored
	// without reading the month again.
	loads := f.events.loads
	again := f.close("2026-11")
	if f.events.loads != loads {
		t.Errorf("a re-close of a month closed without failures read the activity %d times", f.events.loads-loads)
	}
	if !again.AlreadyClosed || onlyInvoice(t, again.Invoices).ID != inv.ID || f.store.saved != 1 || f.sender.sent(inv.ID) != 1 {
		t.Errorf("re-close: already %v, %d saved, sent %d times; want nothing new", again.AlreadyClosed, f.store.saved, f.sender.sent(inv.ID))
	}
	if closes(t, f.svc, "already_closed") != 1 {
		t.Error("re-close not counted already_closed")
	}

	// December: the seats carry over, no credits: 199.00 + 60.00 + 30.00
	// = 289.00, sent to the customer saved in November.
	dec := onlyInvoice(t, f.close("2026-12").Invoices)
	if dec.Total.StringFixed(2) != "289.00" || dec.Status != StatusSent {
		t.Errorf("December: %s %s, want 289.00 sent", dec.Total, dec.Status)
	}
	if g := f.sender.given[dec.ID]; len(g) != 1 || g[0] != "cus_acme" {
		t.Errorf("December sent with customers %q, want the saved cus_acme", g)
	}
	if g := f.sender.given[inv.ID]; len(g) != 1 || g[0] != "" {
		t.Errorf("November sent with customers %q, want none known yet", g)
	}
}

// Without a sender the invoices are finalized and marked not_sent.
func TestClosePeriodDryRun(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	teamNovember(f, "acme")
	inv := onlyInvoice(t, f.close("2026-11").Invoices)
	if inv.Status != StatusNotSent || onlyInvoice(t, f.invoices("acme", "2026-11")).Status != StatusNotSent {
		t.Errorf("dry run: %s, want not_sent (stored too)", inv.Status)
	}
	if counter(t, f.svc.cfg.Metrics.Sent) != 0 || inv.StripeInvoiceID != "" {
		t.Error("dry run counted or named a sent invoice")
	}
}

// One tenant that cannot be rated: the other is stored, sent and the
// period recorded; nothing of the failed tenant leaves.
func TestClosePeriodSendsTheOthersWhenOneTenantFails(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	f.sender = newFakeSender()
	f.restart(pricebook.Default())
	teamNovember(f, "acme")
	f.events.addSub("bad", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("legacy", schemas.TermMonthly, "USD", nil))

	res := f.close("2026-11")
	if len(res.Failures) != 1 || res.Failures[0].Tenant != "bad" || !strings.Contains(res.Failures[0].Reason, "legacy") {
		t.Fatalf("failures %+v, want bad's plan named", res.Failures)
	}
	if inv := onlyInvoice(t, res.Invoices); inv.Tenant != "acme" || inv.Status != StatusSent {
		t.Errorf("invoice %s of %s, want acme's sent", inv.Status, inv.Tenant)
	}
	if len(f.sender.held) != 1 || f.store.closed["2026-11"].IsZero() || closes(t, f.svc, "closed") != 1 {
		t.Errorf("%d invoices at the provider (want 1), closed at %v", len(f.sender.held), f.store.closed["2026-11"])
	}
	if counter(t, f.svc.cfg.Metrics.TenantFailures) != 1 {
		t.Error("tenant failure not counted")
	}
}
