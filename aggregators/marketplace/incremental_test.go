package marketplace_test

// The incremental ledger against the full derivation: a random history is
// stored in a random order (so events arrive late and out of order across
// runs), runs happen at increasing instants, each one starting from the
// previous run's snapshot and the events stored after it; transfers fail,
// some dated before a later snapshot. At every run the continued ledger
// must answer exactly as Derive over everything stored: balances at the
// run and later, the run's payouts with their statements and carry
// reasons, the next snapshot, the rejections and, once reconciled into a
// stored ledger, the entries.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/internal/ledgertest"
)

func TestIncrementalEqualsFull(t *testing.T) {
	t.Run("distinct times", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkIncremental(t, false) }) })
	t.Run("shared instants", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkIncremental(t, true) }) })
}

// stored is one input event with its stored position.
type stored struct {
	seq    int
	sale   *marketplace.Sale
	refund *marketplace.Refund
	kyc    *marketplace.KYCChange
}

func (s stored) provider() string {
	switch {
	case s.sale != nil:
		return s.sale.Provider
	case s.refund != nil:
		return s.refund.Provider
	}
	return s.kyc.Provider
}

func (s stored) at() time.Time {
	switch {
	case s.sale != nil:
		return s.sale.At
	case s.refund != nil:
		return s.refund.At
	}
	return s.kyc.At
}

func (s stored) addTo(in *marketplace.Input) {
	switch {
	case s.sale != nil:
		in.Sales = append(in.Sales, *s.sale)
	case s.refund != nil:
		in.Refunds = append(in.Refunds, *s.refund)
	default:
		in.KYC = append(in.KYC, *s.kyc)
	}
}

func checkIncremental(t *rapid.T, ties bool) {
	w := genWorld(t, ties)
	all := w.input()
	var events []stored
	for i := range all.Sales {
		events = append(events, stored{sale: &all.Sales[i]})
	}
	for i := range all.Refunds {
		events = append(events, stored{refund: &all.Refunds[i]})
	}
	for i := range all.KYC {
		all.KYC[i].EventID = fmt.Sprintf("k%02d", i)
		events = append(events, stored{kyc: &all.KYC[i]})
	}
	// stored positions: a random order, unrelated to the events' times
	for pos, i := range rapid.Permutation(indexes(len(events))).Draw(t, "storeOrder") {
		events[i].seq = pos + 1
	}
	// a few more runs than genWorld draws, so that snapshots chain
	runs := slices.Clone(w.runs)
	for n := rapid.IntRange(0, 3).Draw(t, "extraRuns"); n > 0; n-- {
		runs = append(runs, rapid.Int64Range(0, 100*24*3600).Draw(t, "extraRun"))
	}
	slices.Sort(runs)
	runs = slices.Compact(runs)

	var (
		payouts      []marketplace.Payout
		snap         *marketplace.Snapshot
		ledger       []marketplace.Entry // the stored, append-only ledger
		rejectedOnce = map[string]bool{}
		accepted     *marketplace.Ledger // the previous run's full ledger
		position     = 0
	)
	visible := func(keep func(stored) bool) marketplace.Input {
		var in marketplace.Input
		for _, e := range events {
			if e.seq <= position && keep(e) {
				e.addTo(&in)
			}
		}
		in.Payouts = slices.Clone(payouts)
		return in
	}
	for ri, r := range runs {
		T := at(r)
		position = rapid.IntRange(position, len(events)).Draw(t, "position")
		full, err := marketplace.Derive(terms, visible(func(stored) bool { return true }))
		if err != nil {
			t.Fatal(err)
		}
		var delta marketplace.Input
		if snap == nil {
			delta = visible(func(stored) bool { return true })
		} else {
			last, since := snap.Position, snap.At
			delta = visible(func(e stored) bool { return uint64(e.seq) > last || e.at().After(since) })
			if rapid.Bool().Draw(t, "onlyAskedPayouts") {
				delta.Payouts = askedPayouts(delta.Payouts, snap)
			}
		}
		var asked []string
		src := sourceOf(events, position, snap, &asked, payouts)
		inc, err := marketplace.Advance(terms, snap, delta, src)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("run %d at %d (position %d, re-derived %v)", ri, r, position, asked)

		for _, asOf := range []time.Time{T, T.Add(7 * 24 * time.Hour), T.Add(30 * 24 * time.Hour)} {
			if got, want := dumpBalances(inc.Balances(asOf)), dumpBalances(full.Balances(asOf)); got != want {
				t.Fatalf("%s: balances as of %s\nincremental:\n%s\nfull:\n%s", what, asOf, got, want)
			}
		}
		// one provider's balances from its own part of the snapshot and
		// of the delta
		for _, p := range append(slices.Clone(providers), "p9") {
			pd := providerDelta(delta, accepted, p)
			for _, asOf := range []time.Time{T, T.Add(7 * 24 * time.Hour)} {
				got, err := marketplace.ProviderBalances(terms, snap, p, pd, sourceOf(events, position, snap, nil, payouts), asOf)
				if err != nil {
					t.Fatalf("%s: balances of %s: %v", what, p, err)
				}
				want := slices.DeleteFunc(full.Balances(asOf), func(b marketplace.Balance) bool { return b.Provider != p })
				if dumpBalances(got) != dumpBalances(want) {
					t.Fatalf("%s: balances of %s as of %s\nfrom its part:\n%s\nfull:\n%s", what, p, asOf, dumpBalances(got), dumpBalances(want))
				}
			}
		}

		incRun, err := inc.RunPayouts(T)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		fullRun, err := full.RunPayouts(T)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dumpRun(incRun), dumpRun(fullRun); got != want {
			t.Fatalf("%s: run\nincremental:\n%s\nfull:\n%s", what, got, want)
		}

		// rejections: none the full derivation does not make; every one it
		// makes was reported by this run or an earlier one
		fullRejected := map[string]bool{}
		for _, e := range full.Rejected {
			fullRejected[e.EventID] = true
		}
		for _, e := range inc.Rejected {
			if !fullRejected[e.EventID] {
				t.Fatalf("%s: incremental rejects %s (%v), full accepts it", what, e.EventID, e.Err)
			}
			rejectedOnce[e.EventID] = true
		}
		for id := range fullRejected {
			if !rejectedOnce[id] {
				t.Fatalf("%s: full rejects %s, never reported by the incremental runs", what, id)
			}
		}

		// the stored ledger, reconciled with what this run derives again,
		// sums per entry id to the full derivation up to T
		var scope []marketplace.Entry
		for _, e := range ledger {
			if inc.Rederives(e.Provider, e.At) {
				scope = append(scope, e)
			}
		}
		ledger = append(ledger, marketplace.Reconcile(scope, upTo(inc, T))...)
		if got, want := ledgertest.Sums(ledger), ledgertest.Sums(upTo(full, T)); got != want {
			t.Fatalf("%s: stored ledger\nincremental:\n%s\nfull:\n%s", what, got, want)
		}
		// with the entries of the run's own payouts, it is what the next
		// full derivation gives up to T
		ledger = append(ledger, marketplace.PayoutEntries(incRun.Payouts)...)
		withPaid := full.Entries
		for _, e := range marketplace.PayoutEntries(fullRun.Payouts) {
			withPaid = append(slices.Clip(withPaid), e)
		}
		if got, want := ledgertest.Sums(ledger), ledgertest.Sums(entriesUpTo(withPaid, T)); got != want {
			t.Fatalf("%s: stored ledger\nincremental:\n%s\nfull:\n%s", what, got, want)
		}

		// the next snapshot, from either ledger, is the same
		next, err := inc.Snapshot(T, incRun.Payouts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		fromFull, err := full.Snapshot(T, fullRun.Payouts)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dumpSnapshot(next), dumpSnapshot(fromFull); got != want {
			t.Fatalf("%s: snapshot\nincremental:\n%s\nfull:\n%s", what, got, want)
		}
		next.Position = uint64(position)

		// record the payouts
		for _, p := range incRun.Payouts {
			p.Lines = nil
			payouts = append(payouts, p)
		}
		// a re-run of the same instant from its own snapshot pays nothing
		// more (a crash after the snapshot was stored, before the run was)
		again, err := marketplace.Advance(terms, next, visible(func(e stored) bool { return e.at().After(T) }), sourceOf(events, position, next, nil, payouts))
		if err != nil {
			t.Fatal(err)
		}
		rerun, err := again.RunPayouts(T)
		if err != nil {
			t.Fatal(err)
		}
		if len(rerun.Payouts) != 0 {
			t.Fatalf("%s: re-run from its own snapshot pays %s", what, dumpRun(rerun))
		}
		// a run back in time, between the previous run and this one (as
		// the service allows: it continues the snapshot before it), pays
		// the pairs no later payout blocks; this run's snapshot does not
		// count those payouts
		if ri > 0 && r-runs[ri-1] > 1 && rapid.IntRange(0, 3).Draw(t, "runBack") == 0 {
			back := at(rapid.Int64Range(runs[ri-1]+1, r-1).Draw(t, "backAt"))
			l, err := marketplace.Derive(terms, visible(func(stored) bool { return true }))
			if err != nil {
				t.Fatal(err)
			}
			backRun, err := l.RunPayouts(back)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range backRun.Payouts {
				p.Lines = nil
				payouts = append(payouts, p)
			}
		}
		// some transfers fail, some of them dated before the next run,
		// and an older one may fail late
		for i := range payouts {
			p := &payouts[i]
			if p.Status != marketplace.PayoutFailed && rapid.IntRange(0, 5).Draw(t, "fails") == 0 {
				p.Status = marketplace.PayoutFailed
				p.FailedAt = p.At.Add(time.Duration(rapid.Int64Range(0, 20*24*3600).Draw(t, "failedAfter")) * time.Second)
			}
		}

		snap, accepted = next, full
	}
}
