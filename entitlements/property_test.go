package entitlements

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// TestLiveStateAgreesWithRating: on random histories of one tenant
// (subscription changes, seats, packs and AI credits over three months,
// stored in a random order and folded in random chunks), the live state
// answers what rating bills for the current month when given every event
// at once, one credit row per event, as the close loads them: the credits
// consumed in subscribed time, the overage, the pack credits left, the
// seats held now. The live state is then booted again from the store and
// must answer the same.
func TestLiveStateAgreesWithRating(t *testing.T) {
	book := pricebook.Default()
	now := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	span := now.Sub(from)
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(&testing.T{}, now)
		at := func(label string) time.Time {
			return from.Add(time.Duration(rapid.Int64Range(0, int64(span/time.Minute)).Draw(rt, label)) * time.Minute)
		}
		type pending struct {
			typ schemas.Type
			at  time.Time
			d   schemas.Payload
		}
		var hist []pending
		plans := []string{"starter", "team", "business", "enterprise"}
		for i := range rapid.IntRange(1, 4).Draw(rt, "changes") {
			typ := schemas.TypeSubscriptionChanged
			if i == 0 {
				typ = schemas.TypeSubscriptionStarted
			}
			if rapid.IntRange(0, 5).Draw(rt, "cancel?") == 0 {
				hist = append(hist, pending{schemas.TypeSubscriptionCanceled, at("cancel at"), &schemas.SubscriptionCanceled{}})
				continue
			}
			hist = append(hist, pending{typ, at("change at"), &schemas.Subscription{
				Plan: rapid.SampledFrom(plans).Draw(rt, "plan"), Term: schemas.TermMonthly, Currency: usd}})
		}
		for range rapid.IntRange(0, 20).Draw(rt, "seat events") {
			typ := schemas.TypeSeatAssigned
			if rapid.Bool().Draw(rt, "release?") {
				typ = schemas.TypeSeatReleased
			}
			hist = append(hist, pending{typ, at("seat at"), &schemas.SeatChange{
				UserID: fmt.Sprintf("u%d", rapid.IntRange(0, 6).Draw(rt, "user")), SeatType: rapid.SampledFrom(schemas.SeatTypes()).Draw(rt, "seat")}})
		}
		for range rapid.IntRange(0, 3).Draw(rt, "packs") {
			hist = append(hist, pending{schemas.TypeAIPackPurchased, at("pack at"), &schemas.AIPackPurchased{
				PackID: "p", Credits: decimal.NewFromInt(rapid.Int64Range(1, 3000).Draw(rt, "pack credits")), Currency: usd, Price: dec("10")}})
		}
		for range rapid.IntRange(0, 30).Draw(rt, "credit events") {
			hist = append(hist, pending{schemas.TypeAICreditsConsumed, at("credits at"), &schemas.AICreditsConsumed{
				Credits: decimal.New(rapid.Int64Range(1, 400_000).Draw(rt, "credits"), -1), Feature: schemas.FeatureTutor}})
		}
		// Stored in a random order, folded in random chunks.
		hist = rapid.Permutation(hist).Draw(rt, "stored order")
		for _, h := range hist {
			w.emit("acme", h.typ, h.at, h.d)
			if rapid.IntRange(0, 3).Draw(rt, "step?") == 0 {
				w.step()
			}
		}
		w.step()
		live, err := w.state.Entitlements(context.Background(), "acme", w.mem.through)
		if err != nil {
			rt.Fatal(err)
		}
		want := rateAtOnce(rt, book, w.mem.events, now)
		got := summary{subscribed: live.Subscribed, plan: live.Plan, consumed: live.AICredits.Consumed,
			overage: live.AICredits.Overage, packLeft: live.AICredits.PackCreditsLeft, seats: map[string]int64{}}
		for st, s := range live.Seats {
			got.seats[st] = s.AssignedOfType
		}
		if !got.equal(want) {
			rt.Fatalf("live state %+v; rating of the whole history %+v", got, want)
		}

		// A replica booting from the same store answers the same.
		b := newWorld(&testing.T{}, now)
		b.mem = w.mem
		b.state.cfg.Store, b.state.cfg.Position = w.mem, w.mem
		b.step()
		booted, err := b.state.Entitlements(context.Background(), "acme", w.mem.through)
		if err != nil {
			rt.Fatal(err)
		}
		if !booted.AICredits.Consumed.Equal(live.AICredits.Consumed) || !booted.AICredits.Overage.Equal(live.AICredits.Overage) ||
			!booted.AICredits.PackCreditsLeft.Equal(live.AICredits.PackCreditsLeft) || booted.Plan != live.Plan {
			rt.Fatalf("booted %+v; followed %+v", booted.AICredits, live.AICredits)
		}
	})
}

type summary struct {
	subscribed                  bool
	plan                        string
	consumed, overage, packLeft decimal.Decimal
	seats                       map[string]int64
}

func (s summary) equal(o summary) bool {
	if s.subscribed != o.subscribed || !s.subscribed {
		return s.subscribed == o.subscribed
	}
	for _, st := range schemas.SeatTypes() {
		if s.seats[string(st)] != o.seats[string(st)] {
			return false
		}
	}
	return s.plan == o.plan && s.consumed.Equal(o.consumed) && s.overage.Equal(o.overage) && s.packLeft.Equal(o.packLeft)
}

// rateAtOnce is the close's way: every subscription event admitted in
// stored order, one credit row per event, rating.RateMonth of the month
// of now.
func rateAtOnce(rt *rapid.T, book *pricebook.Book, stored []schemas.StoredEvent, now time.Time) summary {
	stored = slices.Clone(stored)
	slices.SortFunc(stored, func(a, b schemas.StoredEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	var changes []rating.SubscriptionChange
	var u rating.Usage
	p := rating.PeriodOf(now)
	inMonth := decimal.Zero
	for _, se := range stored {
		e := se.Event
		switch d := e.Data.(type) {
		case *schemas.Subscription, *schemas.SubscriptionCanceled:
			changes = append(changes, rating.ChangeOf(e))
		case *schemas.SeatChange:
			u.Seats = append(u.Seats, aggregators.SeatEvent{Time: e.Time, Assigned: e.Type == schemas.TypeSeatAssigned, UserID: d.UserID, SeatType: string(d.SeatType), Seq: se.Seq})
		case *schemas.AIPackPurchased:
			u.Packs = append(u.Packs, rating.PackPurchase{At: e.Time, PackID: d.PackID, Credits: d.Credits, Price: d.Price, Currency: d.Currency})
		case *schemas.AICreditsConsumed:
			u.Credits = append(u.Credits, rating.CreditUsage{At: e.Time, Credits: d.Credits})
			if rating.PeriodOf(e.Time) == p {
				inMonth = inMonth.Add(d.Credits)
			}
		}
	}
	kept, _ := rating.AdmitChanges(book, changes)
	segs, err := rating.Segments(book, kept, p.Start(), p.End())
	if err != nil {
		rt.Fatal(err)
	}
	out := summary{seats: map[string]int64{}}
	for _, s := range segs {
		if !now.Before(s.From) && now.Before(s.To) {
			out.subscribed, out.plan = true, s.Sub.Plan
		}
	}
	if !out.subscribed {
		return out
	}
	res, err := rating.RateMonth(book, "acme", kept, u, p)
	if err != nil {
		rt.Fatal(err)
	}
	out.consumed = inMonth.Sub(res.UnbilledCredits)
	out.overage = decimal.Zero
	for _, l := range res.Invoice.Lines {
		if l.Kind == rating.LineAIOverage {
			out.overage = l.Quantity
		}
	}
	out.packLeft = decimal.Zero
	for _, pk := range res.Packs {
		out.packLeft = out.packLeft.Add(pk.Remaining)
	}
	for st, s := range aggregators.PeakSeats(u.Seats, p.Start(), p.End()) {
		out.seats[st] = s.AtEnd
	}
	return out
}
