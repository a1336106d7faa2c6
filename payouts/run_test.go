package payouts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
)

var (
	dec1 = ts("2026-12-01")
	jan1 = ts("2027-01-01")
)

// specHistory stores SPEC §3's sale and refund and a few providers that a
// run as of Dec 1 must not pay. Terms: fee 15 % of net, hold 14 days,
// minimum payout 50.00 USD.
func (w *world) specHistory(t *testing.T) {
	t.Helper()
	ev := w.events
	ev.add(t, kycEvent("prov-ada", "2026-10-01", "acct_ada"))
	// gross 59.00, tax 9.00 → net 50.00, fee round(50.00 × 0.15) = 7.50,
	// share 50.00 − 7.50 = 42.50, held until Nov 16 10:00.
	ev.add(t, saleEvent("prov-ada", "o-1", "2026-11-02T10:00:00Z", usd, "59.00", "9.00"))
	// refund 29.50 → remaining net round((59.00 − 29.50) × 50.00 ÷ 59.00)
	// = 25.00, fee 3.75, share 21.25: −21.25 taken from held.
	ev.add(t, refundEvent("prov-ada", "o-1", "r-1", "2026-11-03T10:00:00Z", usd, "29.50"))
	// gross 100.00, no tax → fee 15.00, share 85.00, held until Nov 18 10:00.
	ev.add(t, saleEvent("prov-ada", "o-2", "2026-11-04T10:00:00Z", usd, "100.00", "0"))
	// bob: gross 200.00 → fee 30.00, share 170.00, available from Nov 15,
	// but bob never completes KYC.
	ev.add(t, saleEvent("prov-bob", "o-3", "2026-11-01T12:00:00Z", usd, "200.00", "0"))
	// cat: verified; gross 40.00 → fee 6.00, share 34.00 < 50.00.
	ev.add(t, kycEvent("prov-cat", "2026-10-01", "acct_cat"))
	ev.add(t, saleEvent("prov-cat", "o-4", "2026-11-05T00:00:00Z", usd, "40.00", "0"))
	// dan: verified; gross 100.00 on Nov 25 → share 85.00, held until Dec 9.
	ev.add(t, kycEvent("prov-dan", "2026-10-01", "acct_dan"))
	ev.add(t, saleEvent("prov-dan", "o-5", "2026-11-25T00:00:00Z", usd, "100.00", "0"))
}

// adaAmount is ada's available balance on Dec 1: 21.25 (o-1, released
// Nov 16) + 85.00 (o-2, released Nov 18) = 106.25.
const adaAmount = "106.25"

// wantBalance checks provider's USD balance as of at.
func (w *world) wantBalance(t *testing.T, provider, at, held, available, paid string) {
	t.Helper()
	b, err := w.svc.Balances(context.Background(), provider, ts(at))
	if err != nil {
		t.Fatal(err)
	}
	got := "none"
	for _, x := range b.Balances {
		if x.Currency == "USD" {
			got = fmt.Sprintf("held %s available %s paid %s", money.FormatDecimal(x.Held), money.FormatDecimal(x.Available), money.FormatDecimal(x.Paid))
		}
	}
	want := "none"
	if held != "none" {
		want = fmt.Sprintf("held %s available %s paid %s", held, available, paid)
	}
	if got != want {
		t.Errorf("%s as of %s: %s, want %s", provider, at, got, want)
	}
}

func (w *world) run(t *testing.T, asOf time.Time) RunResult {
	t.Helper()
	res, err := w.svc.RunPayouts(context.Background(), asOf)
	if err != nil {
		t.Fatalf("run as of %s: %v", asOf, err)
	}
	return res
}

func statementOf(p Payout) []string {
	var out []string
	for _, l := range p.Statement {
		out = append(out, l.Kind+" "+l.Ref+" "+money.FormatDecimal(l.Amount))
	}
	return out
}

func TestFirstRunPaysVerifiedProvidersAboveTheMinimum(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	res := w.run(t, dec1)
	if res.AlreadyRun || len(res.Payouts) != 1 {
		t.Fatalf("run: already %v, %d payouts %+v; want one new payout (ada)", res.AlreadyRun, len(res.Payouts), res.Payouts)
	}
	p := res.Payouts[0]
	wantID := marketplace.PayoutID("prov-ada", usd, dec1)
	if p.ID != wantID || p.Provider != "prov-ada" || p.Currency != "USD" || money.FormatDecimal(p.Amount) != adaAmount ||
		p.Account != "acct_ada" || p.Status != StatusPaid || p.StripeTransferID != "tr_1" || !p.AsOf.Equal(dec1) {
		t.Errorf("payout %+v", p)
	}
	// The statement: o-1's share and its refund during the hold, then o-2.
	want := []string{"sale o-1 42.50", "refund r-1 -21.25", "sale o-2 85.00"}
	if got := statementOf(p); !slices.Equal(got, want) {
		t.Errorf("statement %q, want %q", got, want)
	}
	wantTransfer := Transfer{PayoutID: wantID, Account: "acct_ada", Currency: usd, Amount: d(adaAmount),
		Description: "Tally payout " + wantID + " as of 2026-12-01T00:00:00Z"}
	if len(w.sender.sent) != 1 || w.sender.sent[0].PayoutID != wantTransfer.PayoutID || w.sender.sent[0].Account != wantTransfer.Account ||
		w.sender.sent[0].Currency != usd || !w.sender.sent[0].Amount.Equal(wantTransfer.Amount) || w.sender.sent[0].Description != wantTransfer.Description {
		t.Errorf("transfers %+v, want %+v", w.sender.sent, wantTransfer)
	}
	if stored := w.store.payout(t, "prov-ada", dec1); stored.Status != StatusPaid || stored.StripeTransferID != "tr_1" {
		t.Errorf("stored %+v", stored)
	}
	if at := w.store.runs[dec1]; !at.Equal(w.now) || w.store.runSizes[dec1] != 1 {
		t.Errorf("run recorded at %v with %d payouts, want %v with 1", at, w.store.runSizes[dec1], w.now)
	}
	if len(w.store.ledger) == 0 {
		t.Error("no ledger entry appended")
	}
	// Order of effects: decide and store everything, record the run, then
	// send and record the outcomes.
	// The run's payouts are sent as saved, not read back; the ledger and
	// the payouts are stored at once.
	wantCalls := []string{"PayoutRun", "Payouts", "LedgerEntries", "AppendLedger", "SavePayouts", "RecordPayoutRun", "UpdatePayoutStatuses"}
	calls := slices.Clone(w.store.calls)
	if len(calls) == len(wantCalls) {
		slices.Sort(calls[3:5])
	}
	if !slices.Equal(calls, wantCalls) {
		t.Errorf("store calls %v, want %v", w.store.calls, wantCalls)
	}
	if paid, runs := w.paid.n.Load(), w.runs.n.Load(); paid != 1 || runs != 1 {
		t.Errorf("metrics: paid %v runs %v", paid, runs)
	}

	w.wantBalance(t, "prov-ada", "2026-12-01", "0.00", "0.00", adaAmount)
	w.wantBalance(t, "prov-bob", "2026-12-01", "0.00", "170.00", "0.00") // not verified
	w.wantBalance(t, "prov-cat", "2026-12-01", "0.00", "34.00", "0.00")  // below the minimum
	w.wantBalance(t, "prov-dan", "2026-12-01", "85.00", "0.00", "0.00")  // still held
}

func TestRerunPaysNothingMore(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	first := w.run(t, dec1)
	again := w.run(t, dec1)
	if !again.AlreadyRun || len(again.Payouts) != 1 || again.Payouts[0].ID != first.Payouts[0].ID || again.Payouts[0].Status != StatusPaid {
		t.Errorf("re-run: %+v", again)
	}
	if n := w.sender.totalCalls(); n != 1 {
		t.Errorf("%d transfer calls, want 1", n)
	}
	if n := w.store.count("SavePayouts"); n != 1 {
		t.Errorf("SavePayouts called %d times, want 1", n)
	}
	// The run as of Jan 1: ada has 0.00 available, bob is not verified,
	// cat's 34.00 is below 50.00; dan's 85.00 was released on Dec 9 and
	// dan is verified: paid.
	later := w.run(t, jan1)
	if len(later.Payouts) != 1 || later.Payouts[0].Provider != "prov-dan" || money.FormatDecimal(later.Payouts[0].Amount) != "85.00" {
		t.Errorf("Jan 1 run: %+v, want dan's 85.00 only", later.Payouts)
	}
}

// The payouts and the run are stored, and no transfer is made (Stripe
// down, as after a crash before the sends): the next call sends each
// pending payout, once.
func TestCrashBetweenStoreAndSend(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	w.sender.answer = func(_ Transfer, call int) error {
		if call == 1 {
			return errDown
		}
		return nil
	}
	if _, err := w.svc.RunPayouts(context.Background(), dec1); !errors.Is(err, errDown) {
		t.Fatalf("err %v, want the sender's", err)
	}
	if p := w.store.payout(t, "prov-ada", dec1); p.Status != StatusPending || len(w.sender.transfers) != 0 {
		t.Fatalf("after the crash: status %s, %d transfers; want pending, 0", p.Status, len(w.sender.transfers))
	}
	// Pending money is not available: it is paid out.
	w.wantBalance(t, "prov-ada", "2026-12-01", "0.00", "0.00", adaAmount)
	for range 2 {
		res := w.run(t, dec1)
		if !res.AlreadyRun || len(res.Payouts) != 1 || res.Payouts[0].Status != StatusPaid {
			t.Fatalf("after the crash: %+v", res)
		}
	}
	if n := len(w.sender.transfers); n != 1 {
		t.Errorf("%d transfers, want 1", n)
	}
}

// A crash after a transfer, before its outcome is recorded: the next call
// sends it again under the same payout id and Stripe answers the same
// transfer.
func TestCrashBetweenTransferAndRecord(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	w.store.fail("UpdatePayoutStatuses", 1)
	if _, err := w.svc.RunPayouts(context.Background(), dec1); !errors.Is(err, errDown) {
		t.Fatalf("err %v, want the store's", err)
	}
	id := marketplace.PayoutID("prov-ada", usd, dec1)
	if p := w.store.payout(t, "prov-ada", dec1); p.Status != StatusPending {
		t.Fatalf("status %s, want pending", p.Status)
	}
	res := w.run(t, dec1)
	if res.Payouts[0].Status != StatusPaid || res.Payouts[0].StripeTransferID != "tr_1" {
		t.Errorf("after the crash: %+v", res.Payouts[0])
	}
	if w.sender.calls[id] != 2 || len(w.sender.transfers) != 1 {
		t.Errorf("%d calls, %d transfers; want 2 calls making 1 transfer", w.sender.calls[id], len(w.sender.transfers))
	}
}

// A crash after the payouts are saved, before the run is recorded: the
// next call decides again, pays nothing new (the engine sees the pending
// payout at this instant) and sends the pending one.
func TestCrashBetweenSaveAndRecordRun(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	w.store.fail("RecordPayoutRun", 1)
	if _, err := w.svc.RunPayouts(context.Background(), dec1); !errors.Is(err, errDown) {
		t.Fatalf("err %v, want the store's", err)
	}
	res := w.run(t, dec1)
	if res.AlreadyRun || len(res.Payouts) != 1 || res.Payouts[0].Status != StatusPaid {
		t.Errorf("after the crash: %+v", res)
	}
	if n, saves := w.sender.totalCalls(), w.store.count("SavePayouts"); n != 1 || saves != 2 || w.store.runSizes[dec1] != 0 {
		t.Errorf("%d transfer calls, %d saves, run of %d; want 1, 2 (the second empty), 0", n, saves, w.store.runSizes[dec1])
	}
}

func TestRefusedTransferFailsAndTheMoneyIsAvailableAgain(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	const reason = "creating transfer: status 400 insufficient_capabilities_for_transfer"
	w.sender.answer = func(Transfer, int) error { return fmt.Errorf("%s: %w", reason, ErrTransferRefused) }
	res := w.run(t, dec1) // a refusal is an outcome, not an error
	p := res.Payouts[0]
	if p.Status != StatusFailed || p.StatusReason != reason+": transfer refused" || !p.FailedAt.Equal(w.now) || p.StripeTransferID != "" {
		t.Errorf("refused payout %+v", p)
	}
	if n := w.failed.n.Load(); n != 1 {
		t.Errorf("failed metric %v", n)
	}
	// Before the failure the money was paid out; from it, available again.
	w.wantBalance(t, "prov-ada", "2026-12-02T07:59:59Z", "0.00", "0.00", adaAmount)
	w.wantBalance(t, "prov-ada", "2026-12-02T08:00:00Z", "0.00", adaAmount, "0.00")
	// A re-run does not send a failed payout again.
	w.run(t, dec1)
	if n := w.sender.totalCalls(); n != 1 {
		t.Errorf("%d transfer calls after the re-run, want 1", n)
	}
	// Stripe accepts from now on: the next run pays the same 106.25, its
	// statement the payout returned.
	w.sender.answer = nil
	next := w.run(t, jan1)
	if len(next.Payouts) != 2 { // ada, and dan's 85.00 available from Dec 9
		t.Fatalf("Jan 1: %+v", next.Payouts)
	}
	jan := next.Payouts[0]
	want := []string{"returned_payout " + p.ID + " " + adaAmount}
	if jan.Provider != "prov-ada" || jan.Status != StatusPaid || money.FormatDecimal(jan.Amount) != adaAmount || !slices.Equal(statementOf(jan), want) {
		t.Errorf("Jan 1 payout %+v, statement %q want %q", jan, statementOf(jan), want)
	}
	if got := jan.Statement[0].Description; got != "payout "+p.ID+" returned by Stripe" {
		t.Errorf("description %q", got)
	}
}

func TestTransientFailureStaysPendingAndIsSentByTheNextCall(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	unavailable := errors.New("stripe unavailable")
	w.sender.answer = func(_ Transfer, call int) error {
		if call == 1 {
			return unavailable
		}
		return nil
	}
	if _, err := w.svc.RunPayouts(context.Background(), dec1); !errors.Is(err, unavailable) {
		t.Fatalf("err %v, want the sender's", err)
	}
	if p := w.store.payout(t, "prov-ada", dec1); p.Status != StatusPending {
		t.Fatalf("status %s, want pending", p.Status)
	}
	w.wantBalance(t, "prov-ada", "2026-12-03", "0.00", "0.00", adaAmount)
	res := w.run(t, dec1)
	if res.Payouts[0].Status != StatusPaid || w.sender.totalCalls() != 2 || len(w.sender.transfers) != 1 {
		t.Errorf("next call: %+v after %d calls", res.Payouts[0], w.sender.totalCalls())
	}
}

func TestDryRunRecordsNotSent(t *testing.T) {
	w := newWorld(t, true)
	w.specHistory(t)
	res := w.run(t, dec1)
	if len(res.Payouts) != 1 || res.Payouts[0].Status != StatusNotSent || money.FormatDecimal(res.Payouts[0].Amount) != adaAmount {
		t.Fatalf("dry run: %+v", res.Payouts)
	}
	if p := w.store.payout(t, "prov-ada", dec1); p.Status != StatusNotSent {
		t.Errorf("stored status %s", p.Status)
	}
	w.run(t, dec1)
	if n := w.store.count("UpdatePayoutStatuses"); n != 1 {
		t.Errorf("statuses recorded %d times, want 1 (a not_sent payout is not pending)", n)
	}
	w.wantBalance(t, "prov-ada", "2026-12-01", "0.00", "0.00", adaAmount)
}

// Rejected sales and refunds are dead-lettered by the run, with their
// stream sequence; a refund of an unknown order only once the grace (1 h by
// default) has passed since its time, as its sale may be in flight.
func TestRejectedEventsAreDeadLettered(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	ghost := w.events.add(t, refundEvent("prov-ada", "ghost", "r-g", "2026-11-30T23:30:00Z", usd, "10.00"))
	// cat refunds 50.00 of a 40.00 sale.
	above := w.events.add(t, refundEvent("prov-cat", "o-4", "r-big", "2026-11-20T00:00:00Z", usd, "50.00"))
	// eve sells ada's order o-2 a day later.
	dup := w.events.add(t, saleEvent("prov-eve", "o-2", "2026-11-05T10:00:00Z", usd, "100.00", "0"))

	w.run(t, dec1) // 30 minutes after the ghost refund
	if _, ok := w.rejecter.rejected[ghost]; ok || len(w.rejecter.rejected) != 2 {
		t.Fatalf("rejected %v: want %d and %d, not %d yet", w.rejecter.rejected, above, dup, ghost)
	}
	if !strings.Contains(w.rejecter.rejected[above], marketplace.ErrRefundExceedsSale.Error()) ||
		!strings.Contains(w.rejecter.rejected[dup], marketplace.ErrDuplicateOrder.Error()) {
		t.Errorf("reasons %v", w.rejecter.rejected)
	}
	w.run(t, ts("2026-12-01T00:30:00Z")) // exactly 1 h after it
	if !strings.Contains(w.rejecter.rejected[ghost], marketplace.ErrUnknownOrder.Error()) {
		t.Errorf("ghost refund: %q", w.rejecter.rejected[ghost])
	}
	// Neither moved a balance: cat keeps 34.00, eve has nothing.
	w.wantBalance(t, "prov-cat", "2026-12-01", "0.00", "34.00", "0.00")
	w.wantBalance(t, "prov-eve", "2026-12-01", "none", "", "")
}
