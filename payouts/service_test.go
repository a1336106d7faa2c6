package payouts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

func TestNewRequiresItsDependencies(t *testing.T) {
	ok := storeConfig(newFakeStore())
	ok.Book, ok.Events = pricebook.Default(), &fakeEvents{}
	cases := map[string]func(*Config){
		"no book":     func(c *Config) { c.Book = nil },
		"no events":   func(c *Config) { c.Events = nil },
		"no store":    func(c *Config) { c.Store = nil },
		"no runs":     func(c *Config) { c.Runs = nil },
		"no payouts":  func(c *Config) { c.Payouts = nil },
		"no statuses": func(c *Config) { c.Statuses = nil },
		"no ledger":   func(c *Config) { c.Ledger = nil },
	}
	for name, edit := range cases {
		cfg := ok
		edit(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrMissingDependency) {
			t.Errorf("%s: err %v, want ErrMissingDependency", name, err)
		}
	}
	s, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.UnknownOrderGrace != time.Hour || s.cfg.Now == nil || s.cfg.Metrics == nil {
		t.Errorf("defaults: %+v", s.cfg)
	}
}

func TestHasRunAndPayouts(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	ctx := context.Background()
	if ran, err := w.svc.HasRun(ctx, dec1); ran || err != nil {
		t.Fatalf("before: %v, %v", ran, err)
	}
	w.run(t, dec1)
	if ran, err := w.svc.HasRun(ctx, dec1.In(time.FixedZone("CET", 3600))); !ran || err != nil {
		t.Errorf("after, asked in another zone: %v, %v", ran, err)
	}
	list, err := w.svc.Payouts(ctx, "prov-ada")
	if err != nil || len(list) != 1 || list[0].Provider != "prov-ada" {
		t.Errorf("ada's payouts: %+v, %v", list, err)
	}
	if list, err := w.svc.Payouts(ctx, "prov-bob"); err != nil || len(list) != 0 {
		t.Errorf("bob's payouts: %+v, %v", list, err)
	}
	w.store.fail("PayoutRun", 0)
	if _, err := w.svc.HasRun(ctx, dec1); !errors.Is(err, errDown) {
		t.Errorf("HasRun with the store down: %v", err)
	}
}

// Each port failing stops a first run with its error, and nothing after
// it in the order of effects happens: no run is recorded unless its
// payouts were saved, no transfer is made before both. The ledger and
// the payouts are stored at once: when one fails the other may be
// stored (either), and the retry pays once.
func TestRunStopsAtTheFirstFailure(t *testing.T) {
	cases := []struct {
		name               string
		breakIt            func(*world)
		saved, ran, either bool
	}{
		{name: "reading the run", breakIt: func(w *world) { w.store.fail("PayoutRun", 1) }},
		{name: "reading the events", breakIt: func(w *world) { w.events.err = errDown }},
		{name: "reading the payouts", breakIt: func(w *world) { w.store.fail("Payouts", 1) }},
		{name: "dead-lettering", breakIt: func(w *world) {
			w.rejecter.err = errDown
			w.events.add(t, refundEvent("prov-cat", "o-4", "r-big", "2026-11-20T00:00:00Z", usd, "50.00"))
		}},
		{name: "reading the ledger", breakIt: func(w *world) { w.store.fail("LedgerEntries", 1) }},
		{name: "appending the ledger", breakIt: func(w *world) { w.store.fail("AppendLedger", 1) }, either: true},
		{name: "saving the payouts", breakIt: func(w *world) { w.store.fail("SavePayouts", 1) }},
		{name: "recording the run", breakIt: func(w *world) { w.store.fail("RecordPayoutRun", 1) }, saved: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			w.specHistory(t)
			tc.breakIt(w)
			if _, err := w.svc.RunPayouts(context.Background(), dec1); !errors.Is(err, errDown) {
				t.Fatalf("err %v, want errDown", err)
			}
			if saved := len(w.store.payouts) > 0; saved != tc.saved && !tc.either {
				t.Errorf("payouts saved: %v, want %v", saved, tc.saved)
			}
			if _, ran := w.store.runs[dec1]; ran != tc.ran {
				t.Errorf("run recorded: %v, want %v", ran, tc.ran)
			}
			if n := w.sender.totalCalls(); n != 0 {
				t.Errorf("%d transfers", n)
			}
			w.store.fail("", 0)
			w.events.err, w.rejecter.err = nil, nil
			res := w.run(t, dec1)
			if len(res.Payouts) != 1 || res.Payouts[0].Provider != "prov-ada" || res.Payouts[0].Status != StatusPaid || w.sender.totalCalls() != 1 {
				t.Errorf("retry: %+v, %d transfers; want ada paid once", res.Payouts, w.sender.totalCalls())
			}
		})
	}
}

// Bad records stop a run (and a balance) instead of being skipped: they
// are Tally's own, not outside input.
func TestBadRecordsStopTheDerivation(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(*world)
	}{
		{"an event of another kind", func(w *world) {
			w.events.addStored(&schemas.Event{SpecVersion: "1.0", ID: "c-1", Source: "app", Type: schemas.TypeAICreditsConsumed,
				Subject: "acme", Time: ts("2026-11-10"), Data: &schemas.AICreditsConsumed{Credits: d("10"), Feature: schemas.FeatureTutor}})
		}},
		{"a payout in an unknown currency", func(w *world) {
			w.store.payouts["po_x"] = Payout{ID: "po_x", Provider: "prov-ada", Currency: "XXX", Amount: d("1"), AsOf: ts("2026-11-20"), Status: StatusPaid}
		}},
		{"a payout of nothing", func(w *world) {
			w.store.payouts["po_x"] = Payout{ID: "po_x", Provider: "prov-ada", Currency: "USD", Amount: d("0"), AsOf: ts("2026-11-20"), Status: StatusPaid}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			w.specHistory(t)
			tc.breakIt(w)
			if _, err := w.svc.RunPayouts(context.Background(), dec1); err == nil {
				t.Error("the run went on")
			}
			if len(w.store.runs) != 0 {
				t.Error("a run was recorded")
			}
		})
	}
	w := newWorld(t, false)
	w.events.err = errDown
	if _, err := w.svc.Balances(context.Background(), "prov-ada", dec1); !errors.Is(err, errDown) {
		t.Errorf("balances with the events down: %v", err)
	}
	w.events.err = nil
	w.store.fail("Payouts", 0)
	if _, err := w.svc.Balances(context.Background(), "prov-ada", dec1); !errors.Is(err, errDown) {
		t.Errorf("balances with the store down: %v", err)
	}
}

// A stored payout in a currency the money package does not know cannot be
// sent; it stays pending with the error.
func TestSendOfAnUnknownCurrencyFails(t *testing.T) {
	w := newWorld(t, false)
	p := &Payout{ID: "po_x", Currency: "XXX", Status: StatusPending}
	if sent, err := w.svc.send(context.Background(), p); sent || err == nil || p.Status != StatusPending {
		t.Errorf("sent %v, err %v, status %s", sent, err, p.Status)
	}
}
