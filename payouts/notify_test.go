package payouts

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tally-billing/tally/money"
)

// fakeNotifier records the facts told and which store call came last
// when each was told.
type fakeNotifier struct {
	store   *fakeStore
	settled []Payout
	held    []Held
	heldAt  time.Time
	after   map[string]string // fact kind → the store call before it
}

func (n *fakeNotifier) PayoutsSettled(_ context.Context, ps []Payout) error {
	n.settled = append(n.settled, ps...)
	n.after["settled"] = n.store.calls[len(n.store.calls)-1]
	return nil
}

func (n *fakeNotifier) PayoutsHeld(_ context.Context, asOf time.Time, held []Held) error {
	n.held, n.heldAt = append(n.held, held...), asOf
	n.after["held"] = n.store.calls[len(n.store.calls)-1]
	return nil
}

// TestNotifierHearsPaidAndHeld: SPEC's history (run_test.go) as of
// December 1: ada is paid; bob has 170.00 available and no KYC, so it is
// held; cat (34.00, below the minimum 50) and dan (still in the hold) are
// not. The facts are told before what they describe is recorded, with
// and without snapshots.
func TestNotifierHearsPaidAndHeld(t *testing.T) {
	for _, snapshots := range []bool{false, true} {
		w := newWorld(t, false)
		if snapshots {
			w.withSnapshots(t)
		}
		n := &fakeNotifier{store: w.store, after: map[string]string{}}
		w.svc.cfg.Notifier = n
		w.specHistory(t)
		w.run(t, dec1)
		if len(n.settled) != 1 || n.settled[0].Provider != "prov-ada" || n.settled[0].Status != StatusPaid ||
			money.FormatDecimal(n.settled[0].Amount) != adaAmount {
			t.Errorf("snapshots %v: settled %+v", snapshots, n.settled)
		}
		if len(n.held) != 1 || n.held[0].Provider != "prov-bob" || n.held[0].Currency != "USD" ||
			money.FormatDecimal(n.held[0].Available) != "170.00" || !n.heldAt.Equal(dec1) {
			t.Errorf("snapshots %v: held %+v at %v", snapshots, n.held, n.heldAt)
		}
		// held before the run is recorded; settled before the statuses.
		if n.after["settled"] != "RecordPayoutRun" || slices.Contains([]string{"RecordPayoutRun", "UpdatePayoutStatuses"}, n.after["held"]) {
			t.Errorf("snapshots %v: told after %v; calls %v", snapshots, n.after, w.store.calls)
		}
	}
}
