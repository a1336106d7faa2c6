package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// genEvent is one event of a generated history and the number of closes
// done before it is stored (0: before the first close).
type genEvent struct {
	tenant  string
	arrival int
	at      time.Time
	store   func(f *fakeEvents, e genEvent)
}

// genHistory draws tenants with subscription histories (monthly, annual,
// multi-year; changes, cancels, changes naming another currency), seats
// and AI credits over months closes months from first on, each event
// stored before the close of its month or, late, after one or more later
// closes.
func genHistory(t *rapid.T, first Period, months int) []genEvent {
	plans := []string{"starter", "team", "business"}
	terms := []schemas.Term{schemas.TermMonthly, schemas.TermAnnual, schemas.TermMultiYear}
	span := first.Start().AddDate(0, months, 0).Sub(first.Start())
	instant := func(label string) time.Time {
		// Whole days at 00:00 or 12:00, so events share instants at times.
		days := rapid.IntRange(0, int(span.Hours()/24)-1).Draw(t, label+" day")
		return first.Start().AddDate(0, 0, days).Add(time.Duration(12*rapid.IntRange(0, 1).Draw(t, label+" half")) * time.Hour)
	}
	arrival := func(at time.Time, label string) int {
		own := 0
		for q := first; q.Before(PeriodOf(at)); q = q.Next() {
			own++
		}
		if rapid.IntRange(0, 2).Draw(t, label+" late?") > 0 {
			return own // on time: stored before its month's close
		}
		return rapid.IntRange(own+1, months).Draw(t, label+" arrival")
	}
	var out []genEvent
	for ti := range rapid.IntRange(1, 3).Draw(t, "tenants") {
		tenant := fmt.Sprintf("t%d", ti)
		currency := rapid.SampledFrom([]string{"USD", "EUR"}).Draw(t, "currency")
		other := map[string]string{"USD": "EUR", "EUR": "USD"}[currency]
		nsubs := rapid.IntRange(0, 4).Draw(t, "subscription events")
		canceling := rapid.Bool().Draw(t, "with cancels")
		var firstStart time.Time
		for range nsubs {
			at := instant("sub")
			kind := rapid.SampledFrom([]schemas.Type{schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged,
				schemas.TypeSubscriptionCanceled}).Draw(t, "kind")
			if kind == schemas.TypeSubscriptionCanceled && !canceling {
				kind = schemas.TypeSubscriptionChanged
			}
			var s *schemas.Subscription
			if kind != schemas.TypeSubscriptionCanceled {
				term := rapid.SampledFrom(terms).Draw(t, "term")
				cur := currency
				// A change to the other currency: refused while a
				// subscription runs, which is always the case after the
				// first start when nothing is ever canceled. (A new
				// currency after a cancel in the same month is the case
				// left to a reported failure: docs/billing.md.)
				if kind == schemas.TypeSubscriptionChanged && !canceling && !firstStart.IsZero() && at.After(firstStart) &&
					rapid.IntRange(0, 3).Draw(t, "other currency?") == 0 {
					cur = other
				}
				s = sub(rapid.SampledFrom(plans).Draw(t, "plan"), term, cur, nil)
				if term != schemas.TermMonthly {
					s.CommittedSeats = map[schemas.SeatType]int64{
						schemas.SeatLearner: int64(rapid.IntRange(0, 3).Draw(t, "committed learners")),
						schemas.SeatAuthor:  int64(rapid.IntRange(0, 1).Draw(t, "committed authors")),
					}
				}
				if term == schemas.TermMultiYear {
					s.TermYears = 2
				}
				if kind == schemas.TypeSubscriptionStarted && (firstStart.IsZero() || at.Before(firstStart)) {
					firstStart = at
				}
			}
			out = append(out, genEvent{tenant: tenant, at: at, arrival: arrival(at, "sub"), store: func(f *fakeEvents, e genEvent) {
				f.addSub(e.tenant, kind, e.at, s)
			}})
		}
		for i := range rapid.IntRange(0, 5).Draw(t, "seats") {
			at := instant("seat")
			user := fmt.Sprintf("u%d", i)
			out = append(out, genEvent{tenant: tenant, at: at, arrival: arrival(at, "seat"), store: func(f *fakeEvents, e genEvent) {
				f.addSeat(e.tenant, e.at, user, "learner", true)
			}})
		}
		for range rapid.IntRange(0, 6).Draw(t, "credit events") {
			at := instant("credits")
			amount := fmt.Sprint(rapid.IntRange(1, 40000).Draw(t, "credits"))
			out = append(out, genEvent{tenant: tenant, at: at, arrival: arrival(at, "credits"), store: func(f *fakeEvents, e genEvent) {
				f.addCredits(e.tenant, e.at, amount)
			}})
		}
	}
	return out
}

// TestNothingAcceptedIsMissed closes month after month while events arrive
// on time or late (after their month was closed), re-closing closed
// months at random, then closes one more month with everything stored,
// and checks SPEC §5's invariants:
//   - every closed month of every tenant is billed exactly what rating it
//     now with every event says (its own lines plus the adjustments naming
//     it): every accepted event is on an invoice, once;
//   - every AI credit of a closed month is billed or on the unbilled
//     report;
//   - every upfront and upgrade invoice of the history is issued exactly
//     once (the contract year's id), with its rated total;
//   - no close fails a tenant, and every refused change is dead-lettered.
func TestNothingAcceptedIsMissed(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		book := pricebook.Default()
		first := Period{Year: 2026, Month: time.September}
		months := rapid.IntRange(2, 14).Draw(rt, "months")
		events := genHistory(rt, first, months)

		f := &fixture{t: t, events: newFakeEvents(), store: newFakeStore(), rej: &fakeRejecter{}}
		f.restart(book)
		ctx := context.Background()
		closeOne := func(q Period) {
			if f.now.Before(q.End()) {
				f.now = q.End()
			}
			res, err := f.svc.ClosePeriod(ctx, q)
			if err != nil {
				rt.Fatalf("closing %s: %v", q, err)
			}
			if len(res.Failures) > 0 {
				rt.Fatalf("closing %s: failures %+v", q, res.Failures)
			}
		}
		q := first
		for k := 0; k <= months; k++ {
			for _, e := range events {
				if e.arrival == k {
					e.store(f.events, e)
				}
			}
			if k == months {
				break
			}
			closeOne(q)
			if k > 0 && rapid.Bool().Draw(rt, "re-close?") {
				back := rapid.IntRange(0, k).Draw(rt, "re-close back")
				before := f.store.saved
				closeOne(PeriodOf(q.Start().AddDate(0, -back, 0)))
				if f.store.saved != before {
					rt.Fatalf("re-closing stored %d invoices", f.store.saved-before)
				}
			}
			q = q.Next()
		}
		last := q
		closeOne(last) // everything is stored now

		acts, err := f.events.Activity(ctx, last.End())
		if err != nil {
			rt.Fatal(err)
		}
		for tenant, a := range acts {
			changes, refused := admitChanges(book, tenant, a.Subscriptions)
			for _, r := range refused {
				if got := f.rej.rejected[r.seq]; got != r.reason {
					rt.Errorf("%s: refused change %d dead-lettered as %q, want %q", tenant, r.seq, got, r.reason)
				}
			}
			invs := f.invoices(tenant, "")
			rows := f.events.credits[tenant]
			for p := first; !last.Before(p); p = p.Next() {
				checkMonthBilled(rt, book, tenant, changes, a, rows, invs, p)
				checkCreditsAccounted(rt, f, book, tenant, rows, p)
			}
			checkPrepaidOnce(rt, book, tenant, changes, invs, last)
		}
	})
}

// checkMonthBilled: the lines naming p on the tenant's monthly invoices
// sum to what rating p with every event gives.
func checkMonthBilled(t *rapid.T, book *pricebook.Book, tenant string, changes []rating.SubscriptionChange,
	a *TenantActivity, rows []rating.CreditUsage, invs []Invoice, p Period) {
	want := decimal.Zero
	res, err := rating.RateMonth(book, tenant, changesBefore(changes, p.End()),
		usageBefore(rating.Usage{Seats: a.Seats, Credits: rows}, p.End()), p)
	switch {
	case errors.Is(err, rating.ErrNotSubscribed):
	case err != nil:
		t.Fatalf("%s %s: rating: %v", tenant, p, err)
	default:
		want = res.Invoice.Total
	}
	got := decimal.Zero
	for _, inv := range invs {
		if inv.Kind != KindMonthly {
			continue
		}
		for _, l := range inv.Lines {
			if l.Period == p.String() {
				got = got.Add(l.Amount)
			}
		}
	}
	if !got.Equal(want) {
		t.Fatalf("%s %s: billed %s, rating with every event says %s\ninvoices %+v", tenant, p, got, want, invs)
	}
}

// checkCreditsAccounted: every credit of p was consumed during subscribed
// time (billed against the allowance) or is on the unbilled report. The
// report of p judges subscription changes stored up to p's end, as the
// close of p does.
func checkCreditsAccounted(t *rapid.T, f *fixture, book *pricebook.Book, tenant string, rows []rating.CreditUsage, p Period) {
	acts, err := f.events.Activity(context.Background(), p.End())
	if err != nil {
		t.Fatal(err)
	}
	var changes []rating.SubscriptionChange
	if a := acts[tenant]; a != nil {
		changes, _ = admitChanges(book, tenant, a.Subscriptions)
	}
	segs, err := rating.Segments(book, changes, p.Start(), p.End())
	if err != nil {
		t.Fatalf("%s %s: segments: %v", tenant, p, err)
	}
	total, subscribed := decimal.Zero, decimal.Zero
	for _, r := range rows {
		if PeriodOf(r.At) != p {
			continue
		}
		total = total.Add(r.Credits)
		for _, s := range segs {
			if !r.At.Before(s.From) && r.At.Before(s.To) {
				subscribed = subscribed.Add(r.Credits)
			}
		}
	}
	items, err := f.svc.Unbilled(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	unbilled := decimal.Zero
	for _, it := range items {
		if it.Tenant == tenant && it.Meter == "ai_credits" {
			unbilled = unbilled.Add(decimal.RequireFromString(it.Quantity))
		}
		if it.Tenant == tenant && strings.HasPrefix(it.Reason, "cannot be rated") {
			t.Fatalf("%s %s on the unbilled report as unratable: %+v", tenant, p, it)
		}
	}
	if !subscribed.Add(unbilled).Equal(total) {
		t.Fatalf("%s %s: %s credits, %s in subscribed time + %s unbilled", tenant, p, total, subscribed, unbilled)
	}
}

// checkPrepaidOnce: every upfront and upgrade invoice of the history up to
// last is stored once, under its contract year's id. Its figures are not
// compared: one issued before a late subscription event rewrote the
// contract (a late earlier start, a late change) keeps the figures it was
// issued with (rating README decision 13; docs/billing.md).
func checkPrepaidOnce(t *rapid.T, book *pricebook.Book, tenant string, changes []rating.SubscriptionChange, invs []Invoice, last Period) {
	want, err := rating.RatePrepaid(book, tenant, changes, time.Time{}, last.End())
	if err != nil {
		t.Fatalf("%s: rating prepaid: %v", tenant, err)
	}
	byID := map[string]int{}
	for _, inv := range invs {
		byID[inv.ID]++
	}
	for _, w := range want {
		id := InvoiceID(tenant, PeriodOf(w.IssuedAt).String(), string(w.Kind), w.IssuedAt.UTC().Format(time.RFC3339Nano))
		if byID[id] != 1 {
			t.Fatalf("%s: %s of %s: %d stored, want one\ninvoices %+v", tenant, w.Kind, w.IssuedAt, byID[id], invs)
		}
	}
}
