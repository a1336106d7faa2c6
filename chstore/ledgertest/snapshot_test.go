package ledgertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/chstore/chstoretest"
	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/payouts"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

var chServer *chlocal.Server

func TestMain(m *testing.M) { chlocaltest.Main(m, "ledgertest", &chServer) }

var (
	d   = moneytest.D
	ts  = moneytest.TS
	usd = moneytest.Cur("USD")
	jpy = moneytest.Cur("JPY")
)

// migrated returns a store on a new database with every migration applied.
func migrated(t *testing.T) *chstore.Store {
	return chstoretest.Migrated(t, chServer, "ledger")
}

// snapshotOf derives a small marketplace and takes its snapshot as of at:
// a paid provider with a statement window, a held sale, a refund, a
// failed payout, a revocation, JPY.
func snapshotOf(t *testing.T, at time.Time) *marketplace.Snapshot {
	snap, _ := snapshotAndInput(t, at)
	return snap
}

func snapshotAndInput(t *testing.T, at time.Time) (*marketplace.Snapshot, marketplace.Input) {
	t.Helper()
	in := marketplace.Input{
		Sales: []marketplace.Sale{
			{EventID: "e1", Provider: "p1", OrderID: "o1", BuyerID: "b1", CourseID: "c1", At: ts("2026-11-01T10:00:00.123456789Z"), Currency: usd, Gross: d("118.00"), Tax: d("18.00")},
			{EventID: "e2", Provider: "p1", OrderID: "o2", At: ts("2026-11-25T00:00:00Z"), Currency: usd, Gross: d("59.00"), Tax: d("0")},
			{EventID: "e3", Provider: "p2", OrderID: "o3", At: ts("2026-11-02T00:00:00Z"), Currency: jpy, Gross: d("5000"), Tax: d("0")},
		},
		Refunds: []marketplace.Refund{
			{EventID: "e4", Provider: "p1", OrderID: "o1", RefundID: "r1", At: ts("2026-11-03T00:00:00Z"), Currency: usd, Amount: d("10.00")},
			{EventID: "e5", Provider: "p1", OrderID: "o2", RefundID: "r2", At: ts("2026-11-26T00:00:00Z"), Currency: usd, Amount: d("5.00")},
		},
		KYC: []marketplace.KYCChange{
			{EventID: "k1", Provider: "p1", At: ts("2026-10-01"), Verified: true, StripeAccount: "acct_1"},
			{EventID: "k2", Provider: "p2", At: ts("2026-10-01"), Verified: true, StripeAccount: "acct_2"},
			{EventID: "k3", Provider: "p2", At: ts("2026-11-20")},
		},
		Payouts: []marketplace.Payout{
			{ID: "po_a", Provider: "p1", Currency: usd, At: ts("2026-11-20"), Amount: d("50.00"), Status: marketplace.PayoutFailed, FailedAt: ts("2026-11-21")},
			{ID: "po_b", Provider: "p2", Currency: jpy, At: ts("2026-11-18"), Amount: d("4250"), Status: marketplace.PayoutPaid},
		},
	}
	l, err := marketplace.Derive(pricebook.Default().Marketplace, in)
	if err != nil {
		t.Fatal(err)
	}
	// no run at at: p1's window since po_a stays open (its failure, Nov 21)
	snap, err := l.Snapshot(at, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap.Position = 42
	return snap, in
}

// dump writes every field the engine reads back.
func dump(s *marketplace.Snapshot) string {
	if s == nil {
		return "none"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "at %s position %d\n", s.At.Format(time.RFC3339Nano), s.Position)
	for _, p := range s.Pairs {
		fmt.Fprintf(&b, "%s %s %s %s %s last %q %s opening %s\n", p.Provider, p.Currency.Code, p.Held.StringFixed(2), p.Available.StringFixed(2),
			p.Paid.StringFixed(2), p.LastPayoutID, p.LastPayoutAt.Format(time.RFC3339Nano), p.Opening.StringFixed(2))
		for _, l := range p.Lines {
			fmt.Fprintf(&b, "  %s %s %s %s %s %s %s %s\n", l.Kind, l.At.Format(time.RFC3339Nano), l.OrderID, l.CourseID, l.RefundID, l.PayoutID, l.EntryID, l.Amount.StringFixed(2))
		}
	}
	for _, o := range s.Orders {
		sl := o.Sale
		fmt.Fprintf(&b, "order %s %s %s %s %s %s %s %s %s\n", sl.OrderID, sl.Provider, sl.EventID, sl.BuyerID, sl.CourseID,
			sl.At.Format(time.RFC3339Nano), sl.Currency.Code, sl.Gross.StringFixed(2), sl.Tax.StringFixed(2))
		for _, r := range o.Refunds {
			fmt.Fprintf(&b, "  refund %s %s %s %s %s\n", r.RefundID, r.EventID, r.Provider, r.At.Format(time.RFC3339Nano), r.Amount.StringFixed(2))
		}
	}
	for _, k := range s.KYC {
		fmt.Fprintf(&b, "kyc %s %s %v %s %s\n", k.Provider, k.At.Format(time.RFC3339Nano), k.Verified, k.StripeAccount, k.EventID)
	}
	for _, p := range s.Payouts {
		fmt.Fprintf(&b, "payout %s %s %s %s %s %s %s %s\n", p.ID, p.Provider, p.Currency.Code, p.At.Format(time.RFC3339Nano),
			p.Amount.StringFixed(2), p.StripeAccount, p.Status, p.FailedAt.Format(time.RFC3339Nano))
	}
	return b.String()
}

func TestSnapshotReadsBackAsSaved(t *testing.T) {
	st, ctx := migrated(t), context.Background()
	dec1, dec5 := ts("2026-12-01"), ts("2026-12-05")
	first, in := snapshotAndInput(t, dec1)
	if len(first.Pairs) != 2 || len(first.Orders) != 1 || len(first.Orders[0].Refunds) != 1 || len(first.Pairs[0].Lines) == 0 {
		t.Fatalf("the snapshot under test lacks parts: %s", dump(first))
	}
	// saved at an instant with nanoseconds, as a run's clock gives
	if err := st.Ledger().SaveLedgerSnapshot(ctx, first, ts("2026-12-01T00:05:00.123456789Z")); err != nil {
		t.Fatal(err)
	}
	got, err := st.Ledger().LedgerSnapshot(ctx, dec1)
	if err != nil {
		t.Fatal(err)
	}
	if dump(got) != dump(first) {
		t.Fatalf("read back:\n%s\nsaved:\n%s", dump(got), dump(first))
	}
	// the engine goes on from what was read as from what was saved
	from := func(s *marketplace.Snapshot) string {
		all := func([]string) (marketplace.Input, error) { return in, nil }
		l, err := marketplace.Advance(pricebook.Default().Marketplace, s, marketplace.Input{Payouts: in.Payouts},
			marketplace.Source{History: all, Orders: all})
		if err != nil {
			t.Fatal(err)
		}
		run, err := l.RunPayouts(ts("2027-01-01"))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%+v", run)
	}
	if from(got) != from(first) {
		t.Fatalf("run from the read snapshot %s, from the saved one %s", from(got), from(first))
	}

	// one provider's part, without statement lines and KYC
	p1, _, err := st.Ledger().ProviderState(ctx, "p1", dec1)
	if err != nil {
		t.Fatal(err)
	}
	want := first.Of("p1")
	want.KYC = nil
	for i := range want.Pairs {
		want.Pairs[i].Lines = nil
	}
	if dump(p1) != dump(want) || len(want.Pairs) == 0 || len(want.Orders) == 0 || len(want.Payouts) == 0 {
		t.Fatalf("p1's part:\n%s\nwant:\n%s", dump(p1), dump(want))
	}
	if none, _, err := st.Ledger().ProviderState(ctx, "p1", ts("2026-11-30")); none != nil || err != nil {
		t.Fatalf("p1's part before any snapshot: %v, %v", none, err)
	}

	// the latest at or before an instant; a later one stored again wins
	second := snapshotOf(t, dec5)
	second.Position = 50
	if err := st.Ledger().SaveLedgerSnapshot(ctx, second, ts("2026-12-05T00:05:00Z")); err != nil {
		t.Fatal(err)
	}
	again := snapshotOf(t, dec5)
	again.Position, again.Pairs[0].Lines = 51, nil
	if err := st.Ledger().SaveLedgerSnapshot(ctx, again, ts("2026-12-05T00:09:00Z")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		asOf time.Time
		want *marketplace.Snapshot
	}{{ts("2026-11-30"), nil}, {dec1, first}, {ts("2026-12-04"), first}, {dec5, again}, {ts("2027-01-01"), again}} {
		got, err := st.Ledger().LedgerSnapshot(ctx, c.asOf)
		if err != nil {
			t.Fatal(err)
		}
		if dump(got) != dump(c.want) {
			t.Errorf("as of %s:\n%s\nwant:\n%s", c.asOf, dump(got), dump(c.want))
		}
	}
}

func TestEventsAfterAndProvidersEvents(t *testing.T) {
	st, ctx := migrated(t), context.Background()
	var stored []consumers.EventRow
	add := func(seq uint64, e *schemas.Event) {
		raw, err := schemas.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Raw = raw
		stored = append(stored, consumers.EventRow{Event: e, StreamSeq: seq})
	}
	sale := func(id, provider, at string) *schemas.Event {
		return &schemas.Event{ID: id, Source: "checkout", Type: schemas.TypeSaleCompleted, Subject: provider, Time: ts(at),
			Data: &schemas.SaleCompleted{OrderID: "o-" + id, BuyerID: "b", CourseID: "c", Currency: usd, Gross: d("10.00"), Tax: d("0")}}
	}
	add(1, sale("a", "p1", "2026-11-01")) // in the snapshot
	add(2, sale("b", "p2", "2026-12-03")) // stored before, dated after the snapshot
	add(3, sale("c", "p1", "2026-11-15")) // stored after, late
	add(4, sale("d", "p2", "2026-12-10")) // stored after
	if err := st.Events().InsertEvents(ctx, stored, "ledgertest"); err != nil {
		t.Fatal(err)
	}
	seqs := func(es []schemas.StoredEvent) []uint64 {
		var out []uint64
		for _, e := range es {
			out = append(out, e.Seq)
		}
		slices.Sort(out)
		return out
	}
	after, err := st.Events().EventsAfter(ctx, 2, ts("2026-12-01"))
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(after); !slices.Equal(got, []uint64{2, 3, 4}) {
		t.Errorf("events after position 2 as of Dec 1: %v, want [2 3 4]", got)
	}
	all, err := st.Events().EventsAfter(ctx, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(all); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Errorf("events after nothing: %v", got)
	}
	p1, err := st.Events().ProvidersEvents(ctx, []string{"p1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(p1); !slices.Equal(got, []uint64{1, 3}) {
		t.Errorf("p1's events: %v, want [1 3]", got)
	}
	// what p1's balance needs after a snapshot at position 2 as of Dec 1:
	// its later events c (late) and g (a refund of its order o-a), e
	// (p2's later sale of o-a, named by g), h (p2's later sale of o-z,
	// p1's sale in the ledger), not f (p2's order), nor a (p1's sale in
	// the snapshot)
	if err := st.Ledger().AppendLedger(ctx, []marketplace.Entry{{ID: "le_z", Kind: marketplace.EntrySale, Provider: "p1", Currency: usd,
		Amount: d("10.00"), At: ts("2026-10-01"), OrderID: "o-z"}}); err != nil {
		t.Fatal(err)
	}
	add(8, &schemas.Event{ID: "h", Source: "checkout", Type: schemas.TypeSaleCompleted, Subject: "p2", Time: ts("2026-12-14"),
		Data: &schemas.SaleCompleted{OrderID: "o-z", BuyerID: "b", CourseID: "c", Currency: usd, Gross: d("10.00"), Tax: d("0")}})
	add(5, &schemas.Event{ID: "e", Source: "checkout", Type: schemas.TypeSaleCompleted, Subject: "p2", Time: ts("2026-12-11"),
		Data: &schemas.SaleCompleted{OrderID: "o-a", BuyerID: "b", CourseID: "c", Currency: usd, Gross: d("10.00"), Tax: d("0")}})
	add(6, sale("f", "p2", "2026-12-12"))
	add(7, &schemas.Event{ID: "g", Source: "checkout", Type: schemas.TypeRefundIssued, Subject: "p1", Time: ts("2026-12-13"),
		Data: &schemas.RefundIssued{OrderID: "o-a", RefundID: "r1", Currency: usd, Amount: d("1.00")}})
	if err := st.Events().InsertEvents(ctx, stored[4:], "ledgertest-2"); err != nil {
		t.Fatal(err)
	}
	forP1, err := st.Events().ProviderEventsAfter(ctx, "p1", 2, ts("2026-12-01"))
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(forP1); !slices.Equal(got, []uint64{3, 5, 7, 8}) {
		t.Errorf("p1's events after the snapshot: %v, want [3 5 7 8]", got)
	}

	// the events of orders a snapshot at position 2, as of Dec 1, counted
	orders, err := st.Events().OrderEvents(ctx, []string{"o-a", "o-b", "o-c"}, 2, ts("2026-12-01"))
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(orders); !slices.Equal(got, []uint64{1}) {
		t.Errorf("orders' events: %v, want [1] (b is after Dec 1, c stored after position 2)", got)
	}
}

func TestPayoutsOfRunAndByProvider(t *testing.T) {
	st, ctx := migrated(t), context.Background()
	dec1 := ts("2026-12-01")
	ps := []payouts.Payout{
		{ID: "po_1", Provider: "p1", Currency: "USD", Amount: d("50.00"), AsOf: ts("2026-11-01"), Account: "acct_1", Status: payouts.StatusPaid,
			Statement: []payouts.StatementLine{{Kind: "sale", Ref: "o1", At: ts("2026-10-01"), Amount: d("50.00")}}},
		{ID: "po_2", Provider: "p1", Currency: "USD", Amount: d("60.00"), AsOf: dec1, Account: "acct_1", Status: payouts.StatusPending,
			Statement: []payouts.StatementLine{{Kind: "sale", Ref: "o2", At: ts("2026-11-01"), Amount: d("60.00")}}},
		{ID: "po_3", Provider: "p2", Currency: "EUR", Amount: d("70.00"), AsOf: dec1, Account: "acct_2", Status: payouts.StatusPending},
	}
	if err := st.Ledger().SavePayouts(ctx, ps); err != nil {
		t.Fatal(err)
	}
	run, err := st.Ledger().PayoutsOfRun(ctx, dec1)
	if err != nil {
		t.Fatal(err)
	}
	if len(run) != 2 || run[0].ID != "po_2" || run[1].ID != "po_3" || len(run[0].Statement) != 1 {
		t.Fatalf("payouts of the Dec 1 run: %+v", run)
	}
	// by provider, from provider_payouts (migration 0010), latest version
	ps[0].Status, ps[0].StatusReason, ps[0].FailedAt = payouts.StatusFailed, "refused", ts("2026-11-02")
	if err := st.Ledger().UpdatePayoutStatuses(ctx, ps[:1]); err != nil {
		t.Fatal(err)
	}
	p1, err := st.Ledger().ProviderPayouts(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(p1) != 2 || p1[0].ID != "po_1" || p1[0].Status != payouts.StatusFailed || !p1[0].FailedAt.Equal(ts("2026-11-02")) || p1[0].Statement != nil || p1[1].ID != "po_2" {
		t.Fatalf("p1's payouts: %+v", p1)
	}
	of, err := st.Ledger().PayoutsOf(ctx, []string{"p2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(of) != 1 || of[0].ID != "po_3" {
		t.Fatalf("p2's payouts: %+v", of)
	}
}

// The payouts a run continued from a snapshot as of Dec 1 asks for: p1's
// latest payout there is po_2 (Dec 1), so po_1 (Nov 1, paid) is not read;
// p2 has no payout in the snapshot, so every one of its is; p3 is not in
// the snapshot; a failed one is always read; one after Dec 1 too.
func TestPayoutsToCheck(t *testing.T) {
	st, ctx := migrated(t), context.Background()
	dec1 := ts("2026-12-01")
	pay := func(id, provider, asOf, status string) payouts.Payout {
		return payouts.Payout{ID: id, Provider: provider, Currency: "USD", Amount: d("50.00"), AsOf: ts(asOf), Account: "acct", Status: status}
	}
	if err := st.Ledger().SavePayouts(ctx, []payouts.Payout{
		pay("po_1", "p1", "2026-11-01", payouts.StatusPaid), pay("po_2", "p1", "2026-12-01", payouts.StatusPaid),
		pay("po_0", "p1", "2026-10-01", payouts.StatusFailed), pay("po_4", "p2", "2026-11-15", payouts.StatusPaid),
		pay("po_5", "p3", "2026-11-15", payouts.StatusPaid), pay("po_6", "p1", "2026-12-15", payouts.StatusPending),
	}); err != nil {
		t.Fatal(err)
	}
	snap := &marketplace.Snapshot{At: dec1, Pairs: []marketplace.PairState{
		{Provider: "p1", Currency: usd, LastPayoutID: "po_2", LastPayoutAt: dec1},
		{Provider: "p2", Currency: usd},
	}}
	got, err := st.Ledger().PayoutsToCheck(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"po_0", "po_2", "po_4", "po_5", "po_6"}) {
		t.Fatalf("payouts to check %v", ids)
	}
	if all, err := st.Ledger().PayoutsToCheck(ctx, nil); err != nil || len(all) != 6 {
		t.Fatalf("payouts to check without a snapshot: %d, %v; want all 6", len(all), err)
	}
}
