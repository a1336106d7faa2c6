package payouts

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// fakeJudge refuses the sales of one provider dated at or after from, and
// records the positions it was asked to reach.
type fakeJudge struct {
	mu       sync.Mutex
	provider string
	from     time.Time
	asked    []uint64
}

func (f *fakeJudge) SaleVerdicts(_ context.Context, sales []schemas.StoredEvent, through uint64) (map[uint64]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, through)
	out := map[uint64]string{}
	for _, se := range sales {
		if se.Event.Type != schemas.TypeSaleCompleted {
			panic("judged a " + string(se.Event.Type))
		}
		if se.Event.Subject == f.provider && !se.Event.Time.Before(f.from) {
			out[se.Seq] = "seller_not_entitled: provider " + f.provider + " is enrolled by a tenant whose plan cannot sell"
		}
	}
	return out, nil
}

// newSellersWorld is newWorld with a sale judge.
func newSellersWorld(t *testing.T, judge SaleJudge) *world {
	t.Helper()
	w := &world{events: &fakeEvents{}, store: newFakeStore(), sender: newFakeSender(), rejecter: &fakeRejecter{},
		paid: newCounter(), failed: newCounter(), runs: newCounter(), now: ts("2026-12-02T08:00:00Z")}
	cfg := storeConfig(w.store)
	cfg.Book, cfg.Events, cfg.Rejecter, cfg.Sellers = pricebook.Default(), w.events, w.rejecter, judge
	cfg.Now, cfg.Logger = func() time.Time { return w.now }, zerolog.New(zerolog.NewTestWriter(t))
	cfg.Metrics = &Metrics{Paid: w.paid, Failed: w.failed, Runs: w.runs}
	cfg.Sender = w.sender
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// TestSalesNotEntitledAreLeftOutAndDeadLettered: ada's sale o-2 (Nov 4)
// is refused by the judge: the run leaves it out of every balance and
// dead-letters it with the judge's reason, the same on a re-run; a
// balance read leaves it out without dead-lettering.
func TestSalesNotEntitledAreLeftOutAndDeadLettered(t *testing.T) {
	judge := &fakeJudge{provider: "prov-ada", from: ts("2026-11-04T00:00:00Z")}
	w := newSellersWorld(t, judge)
	w.specHistory(t)
	var o2 uint64
	for _, fe := range w.events.events {
		if fe.order == "o-2" {
			o2 = fe.Seq
		}
	}
	res := w.run(t, dec1)
	// Without o-2 ada has o-1's 42.50 less the refund's 21.25 = 21.25,
	// below the 50.00 minimum: no payout at all.
	if len(res.Payouts) != 0 || w.sender.totalCalls() != 0 {
		t.Fatalf("payouts %+v, want none (ada's 21.25 is below the minimum)", res.Payouts)
	}
	if why := w.rejecter.rejected[o2]; !strings.HasPrefix(why, "seller_not_entitled: ") || len(w.rejecter.rejected) != 1 {
		t.Fatalf("dead letters %v, want o-2 (seq %d) with seller_not_entitled", w.rejecter.rejected, o2)
	}
	// The judge was asked to reach the last sale read (every sale is
	// judged once the state has folded what was stored before it).
	if len(judge.asked) == 0 || judge.asked[0] != uint64(len(w.events.events)) {
		t.Errorf("judge asked to reach %v, want the highest sale sequence %d first", judge.asked, len(w.events.events))
	}
	w.rejecter.rejected = nil
	w.wantBalance(t, "prov-ada", "2026-12-01", "0.00", "21.25", "0.00")
	if len(w.rejecter.rejected) != 0 {
		t.Errorf("a balance read dead-lettered %v", w.rejecter.rejected)
	}
	// bob, cat, dan sell as before.
	w.wantBalance(t, "prov-bob", "2026-12-01", "0.00", "170.00", "0.00")
	w.wantBalance(t, "prov-dan", "2026-12-01", "85.00", "0.00", "0.00")
	// The next run (Jan 1) judges o-2 the same: dead-lettered again with
	// the same reason (the daemon's rejecter records an event once), and
	// only dan's 85.00, released Dec 9, is paid.
	reason := judge.reason(o2, w)
	later := w.run(t, jan1)
	if len(later.Payouts) != 1 || later.Payouts[0].Provider != "prov-dan" || w.rejecter.rejected[o2] != reason {
		t.Errorf("Jan 1: payouts %+v, dead letters %v", later.Payouts, w.rejecter.rejected)
	}
}

// reason is the judge's reason for the sale stored at seq.
func (f *fakeJudge) reason(seq uint64, w *world) string {
	for _, fe := range w.events.events {
		if fe.Seq == seq {
			v, _ := f.SaleVerdicts(context.Background(), []schemas.StoredEvent{fe.StoredEvent}, seq)
			return v[seq]
		}
	}
	return ""
}

// Without a judge, or with one that refuses nothing, the run pays ada as
// before (TestFirstRunPaysVerifiedProvidersAboveTheMinimum's 106.25).
func TestSalesJudgedEntitledPayAsBefore(t *testing.T) {
	w := newSellersWorld(t, &fakeJudge{provider: "prov-nobody"})
	w.specHistory(t)
	res := w.run(t, dec1)
	if len(res.Payouts) != 1 || res.Payouts[0].Amount.String() != adaAmount || len(w.rejecter.rejected) != 0 {
		t.Errorf("payouts %+v, dead letters %v; want ada's %s and none", res.Payouts, w.rejecter.rejected, adaAmount)
	}
}
