package entitlements

import (
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
)

// creditBook holds a tenant's AI credits the way billing loads them
// (chstore.Events.CreditRows): summed between consecutive cuts, the
// instants of rating.Cuts (month starts and subscription changes), one
// sum per cut. That is all rating needs to tell subscribed from
// unsubscribed credits and draw the packs, and it stays small however
// many events a month has.
//
// A new subscription change may put a cut inside a sum already made; the
// sums of that tenant are then read again from the store with the new
// cuts (the caller does it: [State] reloads a tenant after folding its
// subscription event).
type creditBook struct {
	sums map[time.Time]decimal.Decimal // cut → credits from it to the next cut
	cuts map[rating.Period][]time.Time // cache, dropped when the changes move
}

func newCreditBook() creditBook {
	return creditBook{sums: map[time.Time]decimal.Decimal{}, cuts: map[rating.Period][]time.Time{}}
}

func (b *creditBook) cutsChanged() { clear(b.cuts) }

// cutsOf returns the cuts of period p under changes: rating.Cuts, or the
// period's start alone when the changes cannot be rated (rating then
// reports the tenant; its sums only need to be grouped consistently).
func (b *creditBook) cutsOf(book *pricebook.Book, changes []rating.SubscriptionChange, p rating.Period) []time.Time {
	if cs, ok := b.cuts[p]; ok {
		return cs
	}
	cs, err := rating.Cuts(book, changes, p.Start(), p.End())
	if err != nil {
		cs = []time.Time{p.Start()}
	}
	b.cuts[p] = cs
	return cs
}

// add sums credits consumed at at into the sum of the last cut at or
// before it.
func (b *creditBook) add(book *pricebook.Book, changes []rating.SubscriptionChange, at time.Time, credits decimal.Decimal) {
	cs := b.cutsOf(book, changes, rating.PeriodOf(at))
	i, found := slices.BinarySearchFunc(cs, at, func(c, t time.Time) int { return c.Compare(t) })
	if !found {
		i-- // cs[0] is the period start, at or before at
	}
	cut := cs[i]
	b.sums[cut] = b.sums[cut].Add(credits)
}

// cutsFor returns the cuts of every month that has credits: what a reload
// of the tenant's sums asks the store for.
func (b *creditBook) cutsFor(book *pricebook.Book, changes []rating.SubscriptionChange) []time.Time {
	months := map[rating.Period]bool{}
	for cut := range b.sums {
		months[rating.PeriodOf(cut)] = true
	}
	var out []time.Time
	for _, p := range slices.SortedFunc(func(yield func(rating.Period) bool) {
		for p := range months {
			if !yield(p) {
				return
			}
		}
	}, func(a, c rating.Period) int { return a.Start().Compare(c.Start()) }) {
		out = append(out, b.cutsOf(book, changes, p)...)
	}
	return out
}

// replace sets the sums to rows (a reload from the store).
func (b *creditBook) replace(rows []rating.CreditUsage) {
	clear(b.sums)
	for _, r := range rows {
		at := r.At.UTC()
		b.sums[at] = b.sums[at].Add(r.Credits)
	}
}

// rows returns the sums as rating input.
func (b *creditBook) rows() []rating.CreditUsage {
	out := make([]rating.CreditUsage, 0, len(b.sums))
	for at, c := range b.sums {
		out = append(out, rating.CreditUsage{At: at, Credits: c})
	}
	slices.SortFunc(out, func(a, c rating.CreditUsage) int { return a.At.Compare(c.At) })
	return out
}

// inPeriod sums the credits of period p, subscribed or not.
func (b *creditBook) inPeriod(p rating.Period) decimal.Decimal {
	sum := decimal.Zero
	for at, c := range b.sums {
		if !at.Before(p.Start()) && at.Before(p.End()) {
			sum = sum.Add(c)
		}
	}
	return sum
}
