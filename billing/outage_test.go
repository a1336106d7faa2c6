package billing

import (
	"context"
	"errors"
	"testing"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// A store, event source or rejecter that fails stops the close with its
// error. Before the invoices are stored and the period recorded, nothing
// is recorded and the close counts as failed; a failure while sending
// comes after the record (see send_test.go).
func TestCloseStopsOnAnOutage(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		fail   func(f *fixture)
		failed float64 // closes counted failed
	}{
		{"reading whether closed", func(f *fixture) { f.store.fail["ClosedPeriod"] = boom }, 0},
		{"loading activity", func(f *fixture) { f.events.fail["Activity"] = boom }, 1},
		{"summing credits", func(f *fixture) { f.events.fail["CreditRows"] = boom }, 1},
		{"reading invoices", func(f *fixture) { f.store.fail["Invoices"] = boom }, 1},
		{"reading closed periods", func(f *fixture) { f.store.fail["ClosedPeriods"] = boom }, 1},
		{"dead-lettering", func(f *fixture) { f.rej.fail = boom }, 1},
		{"storing invoices", func(f *fixture) { f.store.fail["SaveInvoices"] = boom }, 1},
		{"recording the close", func(f *fixture) { f.store.fail["RecordClosedPeriod"] = boom }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, pricebook.Default())
			teamNovember(f, "acme")
			// A release of a seat never held: something to dead-letter.
			f.events.addSeat("acme", at(2026, 11, 10, 0), "ghost", "learner", false)
			tt.fail(f)
			_, err := f.closeErr("2026-11")
			if !errors.Is(err, boom) {
				t.Fatalf("err %v, want the outage", err)
			}
			if !f.store.closed["2026-11"].IsZero() {
				t.Error("period recorded closed after an outage")
			}
			if got := closes(t, f.svc, "failed"); got != tt.failed {
				t.Errorf("failed closes counted %v, want %v", got, tt.failed)
			}
		})
	}
}

// A stored invoice or closed period whose period is not "YYYY-MM" stops
// the close: billing compares periods as values and cannot place it.
func TestCloseRefusesAMalformedStoredPeriod(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
	}{
		{"invoice", func(f *fixture) { f.store.invoices["inv_x"] = Invoice{ID: "inv_x", Tenant: "acme", Period: "2026-13"} }},
		{"closed period", func(f *fixture) { f.store.closed["November"] = at(2026, 12, 1, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, pricebook.Default())
			teamNovember(f, "acme")
			tt.setup(f)
			if _, err := f.closeErr("2026-11"); err == nil || f.store.saved != 0 {
				t.Errorf("err %v, %d saved; want a failed close storing nothing", err, f.store.saved)
			}
		})
	}
}

// A pack purchase whose data is not a pack fails its tenant only.
func TestMalformedPackFailsItsTenant(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	teamNovember(f, "acme")
	f.events.addSub("beta", schemas.TypeSubscriptionStarted, at(2026, 11, 1, 0), sub("team", schemas.TermMonthly, "USD", nil))
	f.events.addPack("beta", at(2026, 11, 5, 0), &schemas.SubscriptionCanceled{})
	res := f.close("2026-11")
	if len(res.Failures) != 1 || res.Failures[0].Tenant != "beta" || res.Failures[0].Reason != "event pack is not a pack purchase" {
		t.Errorf("failures %+v, want beta's pack", res.Failures)
	}
	if inv := onlyInvoice(t, res.Invoices); inv.Tenant != "acme" {
		t.Errorf("invoice of %s, want acme's", inv.Tenant)
	}
}

func TestNewRequiresItsPorts(t *testing.T) {
	book, ev, st := pricebook.Default(), newFakeEvents(), newFakeStore()
	for name, cfg := range map[string]Config{
		"no book":                {Activity: ev, Invoices: st, Periods: st},
		"no activity":            {Book: book, Invoices: st, Periods: st},
		"no invoice store":       {Book: book, Activity: ev, Periods: st},
		"no period record":       {Book: book, Activity: ev, Invoices: st},
		"a sender, no customers": {Book: book, Activity: ev, Invoices: st, Periods: st, Sender: &fakeSender{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	s, err := New(Config{Book: book, Activity: ev, Invoices: st, Periods: st})
	if err != nil || s.cfg.Now == nil || s.cfg.Metrics == nil {
		t.Fatalf("New with the defaults: %v", err)
	}
}

// IsClosed, Close and Invoices read what ClosePeriod did.
func TestReadsAfterAClose(t *testing.T) {
	f := newFixture(t, pricebook.Default())
	teamNovember(f, "acme")
	teamNovember(f, "beta")
	nov := Period{Year: 2026, Month: 11}
	ctx := context.Background()
	if closed, err := f.svc.IsClosed(ctx, nov); closed || err != nil {
		t.Fatalf("closed %v before the close (%v)", closed, err)
	}
	f.now = nov.End()
	res, err := f.svc.Close(ctx, nov)
	if err != nil || len(res.Invoices) != 2 {
		t.Fatalf("Close: %v, %d invoices; want acme's and beta's", err, len(res.Invoices))
	}
	if closed, err := f.svc.IsClosed(ctx, nov); !closed || err != nil {
		t.Errorf("closed %v after the close (%v)", closed, err)
	}
	invs, err := f.svc.Invoices(ctx, "beta", "2026-11")
	if err != nil || onlyInvoice(t, invs).Tenant != "beta" || invs[0].Total.StringFixed(2) != "311.51" {
		t.Errorf("beta's November: %+v (%v), want one of 311.51", invs, err)
	}
	if all, _ := f.svc.Invoices(ctx, "", ""); len(all) != 2 {
		t.Errorf("%d invoices with no filter, want 2", len(all))
	}
}
