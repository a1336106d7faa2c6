package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tally-billing/tally/pricebook"
)

// senderFixture is a fixture with a fake provider, acme's November
// (teamNovember: 311.51) stored as events.
func senderFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, pricebook.Default())
	f.sender = newFakeSender()
	f.restart(pricebook.Default())
	teamNovember(f, "acme")
	return f
}

// closeErr closes period after its end and returns the close's error.
func (f *fixture) closeErr(period string) (CloseResult, error) {
	f.t.Helper()
	p, err := ParsePeriod(period)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.now.Before(p.End()) {
		f.now = p.End()
	}
	return f.svc.ClosePeriod(context.Background(), p)
}

// The process stops between storing and sending (here: the provider is
// down, then the daemon restarts): the invoice stays finalized, and the
// next close, on a new Service over the same stores, sends it; no close
// after that sends it again.
func TestCrashBetweenStoreAndSend(t *testing.T) {
	f := senderFixture(t)
	f.sender.fail = func(InvoicePush) error { return errUnavailable }

	res, err := f.closeErr("2026-11")
	if !errors.Is(err, errUnavailable) {
		t.Fatalf("err %v, want the outage", err)
	}
	inv := onlyInvoice(t, f.invoices("acme", "2026-11"))
	if inv.Status != StatusFinalized || res.Invoices[0].Status != StatusFinalized || f.store.closed["2026-11"].IsZero() {
		t.Fatalf("after the outage: stored %s, closed at %v; want finalized and recorded", inv.Status, f.store.closed["2026-11"])
	}
	if len(f.sender.held) != 0 {
		t.Fatalf("the provider holds %d invoices, want none", len(f.sender.held))
	}

	f.sender.fail = nil
	f.restart(pricebook.Default())
	again := f.close("2026-11")
	if !again.AlreadyClosed || onlyInvoice(t, again.Invoices).Status != StatusSent {
		t.Fatalf("re-close: %+v, want the invoice sent", again.Invoices)
	}
	f.close("2026-11")
	f.close("2026-12")
	// One attempt during the outage, one send after: never a third.
	if n := f.sender.sent(inv.ID); n != 2 || len(ofKind(f.invoices("acme", "2026-11"), KindMonthly)) != 1 {
		t.Errorf("November sent %d times, want 2 (the failed attempt and the send)", n)
	}
	if f.store.saved != 2 { // November's and December's, once each
		t.Errorf("%d invoices saved, want 2", f.store.saved)
	}
}

// The process stops after the provider took the invoice and before the
// status was recorded: the next close sends it again, and the provider,
// which keys it by Tally's id, still holds one invoice.
func TestCrashBetweenSendAndRecord(t *testing.T) {
	f := senderFixture(t)
	f.store.fail["UpdateInvoiceStatuses"] = errors.New("clickhouse gone")
	if _, err := f.closeErr("2026-11"); err == nil {
		t.Fatal("close recorded the statuses in a store that is down")
	}
	inv := onlyInvoice(t, f.invoices("acme", "2026-11"))
	if inv.Status != StatusFinalized || len(f.sender.held) != 1 {
		t.Fatalf("stored %s, provider holds %d; want finalized and 1", inv.Status, len(f.sender.held))
	}

	delete(f.store.fail, "UpdateInvoiceStatuses")
	f.restart(pricebook.Default())
	f.close("2026-11")
	f.close("2026-11")
	if n, got := f.sender.sent(inv.ID), onlyInvoice(t, f.invoices("acme", "2026-11")); n != 2 || got.Status != StatusSent || len(f.sender.held) != 1 {
		t.Errorf("sent %d times (want 2), status %s, provider holds %d (want 1)", n, got.Status, len(f.sender.held))
	}
	// The customer was saved by the first send, before the crash.
	if g := f.sender.given[inv.ID]; len(g) != 2 || g[1] != "cus_acme" {
		t.Errorf("customers given %q, want the saved one on the second send", g)
	}
}

// The process stops after storing the invoices and before recording the
// period: the next close is a first close again, finds the invoices
// stored and stores none twice.
func TestCrashBetweenStoreAndRecord(t *testing.T) {
	f := senderFixture(t)
	f.store.fail["RecordClosedPeriod"] = errors.New("clickhouse gone")
	if _, err := f.closeErr("2026-11"); err == nil {
		t.Fatal("close did not report the failed record")
	}
	if f.store.saved != 1 || !f.store.closed["2026-11"].IsZero() || len(f.sender.held) != 0 {
		t.Fatalf("saved %d, closed %v, sent %d; want 1 stored, not recorded, nothing sent", f.store.saved, f.store.closed["2026-11"], len(f.sender.held))
	}
	delete(f.store.fail, "RecordClosedPeriod")
	res := f.close("2026-11")
	if res.AlreadyClosed || f.store.saved != 1 || onlyInvoice(t, res.Invoices).Status != StatusSent {
		t.Errorf("second close: already %v, saved %d; want a first close storing nothing new and sending", res.AlreadyClosed, f.store.saved)
	}
}

// A refusal marks the invoice send_failed with the reason and is never
// sent again; an outage leaves another tenant's invoice finalized, sent
// by the next close.
func TestRefusedVersusTransientSend(t *testing.T) {
	f := senderFixture(t)
	teamNovember(f, "beta")
	down := true
	f.sender.fail = func(inv InvoicePush) error {
		switch {
		case inv.Tenant == "acme":
			return fmt.Errorf("creating invoice: status 400 amount_too_large: %w", ErrSendRefused)
		case down:
			return errUnavailable
		}
		return nil
	}

	res, err := f.closeErr("2026-11")
	if !errors.Is(err, errUnavailable) || errors.Is(err, ErrSendRefused) {
		t.Fatalf("err %v, want the outage only (a refusal is an outcome, not an error)", err)
	}
	byTenant := map[string]Invoice{}
	for _, inv := range res.Invoices {
		byTenant[inv.Tenant] = inv
	}
	acme, beta := byTenant["acme"], byTenant["beta"]
	if acme.Status != StatusSendFailed || !strings.Contains(acme.StatusReason, "amount_too_large") {
		t.Errorf("acme: %s %q, want send_failed with the provider's reason", acme.Status, acme.StatusReason)
	}
	if beta.Status != StatusFinalized || counter(t, f.svc.cfg.Metrics.SendFailed) != 1 {
		t.Errorf("beta: %s, want finalized; send_failed counted %v", beta.Status, counter(t, f.svc.cfg.Metrics.SendFailed))
	}

	down = false
	f.close("2026-11")
	if got := onlyInvoice(t, f.invoices("beta", "2026-11")); got.Status != StatusSent || f.sender.sent(beta.ID) != 2 {
		t.Errorf("beta after the outage: %s, sent %d times; want sent on the second try", got.Status, f.sender.sent(beta.ID))
	}
	if got := onlyInvoice(t, f.invoices("acme", "2026-11")); got.Status != StatusSendFailed || f.sender.sent(acme.ID) != 1 {
		t.Errorf("acme: %s, sent %d times; want send_failed, never retried", got.Status, f.sender.sent(acme.ID))
	}
}

// A send that cannot start (the stored invoice names a currency money
// does not know, the customer store is down) or whose customer cannot be
// saved leaves that invoice finalized, for the next close to send again
// (the provider keeps one invoice per id), and fails the close, after the
// period is recorded; the other invoices are sent.
func TestSendFailuresBeforeAndAfterTheProvider(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		setup  func(f *fixture)
		want   error
		atProv int // invoices the provider holds afterwards
	}{
		{"unknown currency on a stored invoice", func(f *fixture) {
			f.store.invoices["inv_odd"] = Invoice{ID: "inv_odd", Tenant: "odd", Period: "2026-11", Kind: KindMonthly,
				Currency: "XXX", Status: StatusFinalized, Lines: []Line{{Kind: "base", Item: "base:team"}}}
		}, nil, 1},
		{"customer store down", func(f *fixture) { f.store.fail["StripeCustomer"] = boom }, boom, 0},
		{"customer not saved", func(f *fixture) { f.store.fail["SaveStripeCustomer"] = boom }, boom, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := senderFixture(t)
			tt.setup(f)
			_, err := f.closeErr("2026-11")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err %v, want a failed send (%v)", err, tt.want)
			}
			if f.store.closed["2026-11"].IsZero() || len(f.sender.held) != tt.atProv {
				t.Errorf("closed %v, provider holds %d (want %d)", f.store.closed["2026-11"], len(f.sender.held), tt.atProv)
			}
			// acme's invoice is sent unless its own send failed; the
			// one that failed stays finalized for the next close.
			for _, inv := range f.invoices("", "2026-11") {
				failed := inv.Tenant == "odd" || tt.want != nil
				if (inv.Status == StatusFinalized) != failed {
					t.Errorf("%s's invoice is %s", inv.Tenant, inv.Status)
				}
			}
		})
	}
}
