package payouts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/internal/ledgertest"
	"github.com/tally-billing/tally/pricebook"
)

// withSnapshots rewires w's service to continue each run from the last
// snapshot.
func (w *world) withSnapshots(t *testing.T) *fakeSnapshots {
	t.Helper()
	snaps := &fakeSnapshots{events: w.events, store: w.store}
	cfg := w.svc.cfg
	cfg.Snapshots, cfg.Later, cfg.Checks, cfg.Position = snaps, snaps, snaps, snaps
	cfg.Providers = snaps
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return snaps
}

func payoutsOf(t *testing.T, w *world) string {
	t.Helper()
	ps, err := w.store.Payouts(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s %s %s %s %s %q", p.ID, p.Provider, p.Currency, p.Amount.String(), p.Status, statementOf(p)))
	}
	return strings.Join(out, "\n")
}

// Three monthly runs with late events between them, continued from
// snapshots, against the same world deriving everything each time.
//
//	Dec 1: ada is paid 106.25 (specHistory).
//	then:  a refund of o-2 (100.00, share 85.00) dated Nov 20, stored late:
//	       after release, before the Dec 1 payout → −85.00 from available,
//	       which the payout then took below zero: ada at −85.00.
//	       ada sells o-6 on Dec 3 (gross 200.00 → share 170.00, released
//	       Dec 17); cat is revoked on Nov 30, stored late.
//	Jan 1: ada −85.00 + 170.00 = 85.00, paid with a carry-over of −85.00;
//	       dan 85.00 (o-5 released Dec 9), paid.
//	then:  a sale of bob's dated Dec 20 stored late, and bob verifies.
//	Feb 1: bob 170.00 (o-3) + 42.50 (gross 50.00, released Jan 3) = 212.50.
func TestContinuedRunsEqualFullRuns(t *testing.T) {
	full, cont := newWorld(t, false), newWorld(t, false)
	snaps := cont.withSnapshots(t)
	both := func(f func(w *world)) { f(full); f(cont) }
	both(func(w *world) { w.specHistory(t) })
	both(func(w *world) { w.run(t, dec1) })
	both(func(w *world) {
		w.events.add(t, refundEvent("prov-ada", "o-2", "r-2", "2026-11-20T00:00:00Z", usd, "100.00"))
		w.events.add(t, saleEvent("prov-ada", "o-6", "2026-12-03T00:00:00Z", usd, "200.00", "0"))
		w.events.add(t, revokeEvent("prov-cat", "2026-11-30T00:00:00Z"))
	})
	both(func(w *world) { w.run(t, jan1) })
	feb1 := ts("2027-02-01")
	both(func(w *world) {
		w.events.add(t, saleEvent("prov-bob", "o-7", "2026-12-20T00:00:00Z", usd, "50.00", "0"))
		w.events.add(t, kycEvent("prov-bob", "2027-01-10", "acct_bob"))
	})
	both(func(w *world) { w.run(t, feb1) })

	if got, want := payoutsOf(t, cont), payoutsOf(t, full); got != want {
		t.Fatalf("payouts from snapshots:\n%s\nfrom everything:\n%s", got, want)
	}
	for _, c := range []struct{ provider, amount string }{{"prov-ada", "85.00"}, {"prov-dan", "85.00"}} {
		if p := cont.store.payout(t, c.provider, jan1); p.Amount.StringFixed(2) != c.amount {
			t.Errorf("%s paid %s on Jan 1, want %s", c.provider, p.Amount, c.amount)
		}
	}
	if got := statementOf(cont.store.payout(t, "prov-ada", jan1)); !slices.Equal(got, []string{
		"carry_over " + marketplace.PayoutID("prov-ada", usd, dec1) + " -85.00", "sale o-6 170.00"}) {
		t.Errorf("ada's Jan 1 statement %q", got)
	}
	if p := cont.store.payout(t, "prov-bob", feb1); p.Amount.StringFixed(2) != "212.50" {
		t.Errorf("bob paid %s on Feb 1, want 212.50", p.Amount)
	}
	// A continued run stores its own payouts' entries at once (the next
	// run starts after them); a full run stores them with the next run.
	bob := cont.store.payout(t, "prov-bob", feb1)
	lastPaid := marketplace.PayoutEntries([]marketplace.Payout{{ID: bob.ID, Provider: bob.Provider, Currency: usd, At: feb1, Amount: bob.Amount}})
	if got, want := ledgertest.Sums(cont.store.ledger), ledgertest.Sums(append(slices.Clone(full.store.ledger), lastPaid...)); got != want {
		t.Fatalf("ledger from snapshots:\n%s\nfrom everything:\n%s", got, want)
	}
	// a balance from the provider's part of the latest snapshot is the
	// balance from its whole history, also after late events stored
	// after the last run
	both(func(w *world) {
		w.events.add(t, refundEvent("prov-bob", "o-7", "r-7", "2027-01-20T00:00:00Z", usd, "50.00"))
		w.events.add(t, saleEvent("prov-ada", "o-8", "2027-02-03T00:00:00Z", usd, "10.00", "0"))
		w.events.add(t, saleEvent("prov-dan", "o-8", "2027-02-02T00:00:00Z", usd, "30.00", "0")) // claims o-8 first
	})
	for _, provider := range []string{"prov-ada", "prov-bob", "prov-cat", "prov-dan"} {
		for _, asOf := range []time.Time{feb1, ts("2027-02-10"), ts("2027-03-01")} {
			got, err := cont.svc.Balances(context.Background(), provider, asOf)
			if err != nil {
				t.Fatal(err)
			}
			want, err := full.svc.Balances(context.Background(), provider, asOf)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("balances of %s as of %s from the snapshot %v, from the history %v", provider, asOf, got, want)
			}
		}
	}
	if snaps.providerReads != 12 {
		t.Errorf("%d balances read from the snapshot, want 12", snaps.providerReads)
	}
	// the continued runs read the whole history once, then only what came
	// after each snapshot (9 in specHistory, then 3, then 2)
	if !slices.Equal(snaps.read, []int{9, 3, 2}) {
		t.Errorf("events read by the three runs: %v, want [9 3 2]", snaps.read)
	}
	if n := cont.store.count("LedgerEntries"); n != 1 {
		t.Errorf("the whole stored ledger was read %d times, want once (the first run)", n)
	}
}

// A crash between saving the payouts and storing the snapshot, and one
// between storing the snapshot and recording the run: the retry pays
// nothing twice.
func TestContinuedRunCrashes(t *testing.T) {
	for _, crash := range []string{"SaveLedgerSnapshot", "RecordPayoutRun"} {
		t.Run(crash, func(t *testing.T) {
			w := newWorld(t, false)
			snaps := w.withSnapshots(t)
			w.specHistory(t)
			if crash == "SaveLedgerSnapshot" {
				snaps.failOn = 1
			} else {
				w.store.fail("RecordPayoutRun", 1)
			}
			if _, err := w.svc.RunPayouts(context.Background(), dec1); !errors.Is(err, errDown) {
				t.Fatalf("run with %s failing: %v", crash, err)
			}
			w.store.fail("", 0)
			res := w.run(t, dec1)
			if len(res.Payouts) != 1 || res.Payouts[0].Provider != "prov-ada" || res.Payouts[0].Amount.StringFixed(2) != adaAmount {
				t.Fatalf("retry: %+v", res.Payouts)
			}
			if n := w.sender.totalCalls(); n != 1 {
				t.Errorf("%d transfers, want 1", n)
			}
			// and the next month goes on from whatever snapshot is there
			w.events.add(t, saleEvent("prov-ada", "o-6", "2026-12-03T00:00:00Z", usd, "200.00", "0"))
			res = w.run(t, jan1)
			var got []string
			for _, p := range res.Payouts {
				got = append(got, p.Provider+" "+p.Amount.StringFixed(2))
			}
			if !slices.Equal(got, []string{"prov-ada 170.00", "prov-dan 85.00"}) {
				t.Errorf("Jan 1 run: %v", got)
			}
		})
	}
}

// An event readable above the stored-through position is claimed by no
// snapshot: the next run reads it again. A refund waiting for its sale is
// read again too, and applied once the sale is stored.
func TestContinuedRunRereadsWhatItCannotClaim(t *testing.T) {
	w := newWorld(t, true)
	snaps := w.withSnapshots(t)
	w.specHistory(t)
	snaps.through = 3 // the sink has acknowledged only the first three
	// dan's refund of o-5 arrives before its sale... of another order o-9:
	// it waits for the sale (within the grace at the run)
	w.events.add(t, refundEvent("prov-dan", "o-9", "r-9", "2026-11-30T23:30:00Z", usd, "100.00"))
	w.run(t, dec1)
	if pos := snaps.saved[0].Position; pos != 3 {
		t.Fatalf("snapshot claims position %d, want 3 (stored through)", pos)
	}
	snaps.through = 0
	w.events.add(t, saleEvent("prov-dan", "o-9", "2026-11-30T23:00:00Z", usd, "100.00", "0"))
	w.run(t, jan1)
	if pos := snaps.saved[1].Position; pos != 11 {
		t.Errorf("second snapshot claims position %d, want 11", pos)
	}
	// dan: o-5 85.00 released Dec 9; o-9 sold and wholly refunded → 0.
	p := w.store.payout(t, "prov-dan", jan1)
	if p.Amount.StringFixed(2) != "85.00" {
		t.Errorf("dan paid %s, want 85.00 (o-9 refunded in full)", p.Amount)
	}
	if len(w.rejecter.rejected) != 0 {
		t.Errorf("dead-lettered %v", w.rejecter.rejected)
	}
}

func TestSnapshotsNeedThePosition(t *testing.T) {
	cfg := storeConfig(newFakeStore())
	cfg.Book, cfg.Events, cfg.Snapshots, cfg.Later, cfg.Checks = pricebook.Default(), &fakeEvents{}, &fakeSnapshots{}, &fakeSnapshots{}, &fakeSnapshots{}
	_, err := New(cfg)
	if !errors.Is(err, ErrMissingDependency) {
		t.Fatalf("New without Position: %v", err)
	}
}
