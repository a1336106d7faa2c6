package rating

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

type pack struct {
	PackPurchase
	item string
	left decimal.Decimal
}

// sortedPacks returns the packs bought before end, oldest first (ties by
// pack id, credits, price), each with a unique line item.
func sortedPacks(in []PackPurchase, end time.Time) ([]*pack, error) {
	var out []*pack
	for _, p := range in {
		if !p.At.Before(end) {
			continue
		}
		if !p.Credits.IsPositive() || p.Price.IsNegative() {
			return nil, fmt.Errorf("pack %s at %s: credits must be > 0 and price ≥ 0", p.PackID, stamp(p.At))
		}
		out = append(out, &pack{PackPurchase: p, left: p.Credits})
	}
	slices.SortFunc(out, func(a, b *pack) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if c := strings.Compare(a.PackID, b.PackID); c != 0 {
			return c
		}
		if c := a.Credits.Cmp(b.Credits); c != 0 {
			return c
		}
		return a.Price.Cmp(b.Price)
	})
	seen := map[string]int{}
	for _, p := range out {
		item := "pack:" + p.PackID + "@" + stamp(p.At)
		seen[item]++
		if n := seen[item]; n > 1 {
			item += fmt.Sprintf("#%d", n)
		}
		p.item = item
	}
	return out, nil
}

type aiRating struct {
	consumed, fromPacks, overage decimal.Decimal
}

// aiCredits rates the credits of period p and draws the packs, oldest
// first, through every period from the first pack purchase to p (packs
// never expire). In each period the credits consumed during subscribed
// time, above the allowance of the last subscription of that period, come
// from the packs bought before the period end, then are overage.
func aiCredits(tl *timeline, rows []CreditUsage, packs []*pack, p Period) (aiRating, decimal.Decimal) {
	from := p
	if len(packs) > 0 && PeriodOf(packs[0].At).Before(p) {
		from = PeriodOf(packs[0].At)
	}
	var res aiRating
	var unbilled decimal.Decimal
	for q := from; !p.Before(q); q = q.Next() {
		segs := clip(tl.segments, q.Start(), q.End())
		consumed, outside := decimal.Zero, decimal.Zero
		for _, r := range rows {
			if r.At.Before(q.Start()) || !r.At.Before(q.End()) {
				continue
			}
			if subscribedAt(segs, r.At) {
				consumed = consumed.Add(r.Credits)
			} else {
				outside = outside.Add(r.Credits)
			}
		}
		if len(segs) == 0 {
			res, unbilled = aiRating{}, outside
			continue
		}
		allowance := segs[len(segs)-1].Sub.Prices.AIIncluded
		need := decimal.Max(decimal.Zero, consumed.Sub(allowance))
		drawn := decimal.Zero
		for _, pk := range packs {
			if need.IsZero() || !pk.At.Before(q.End()) {
				break
			}
			take := decimal.Min(need, pk.left)
			pk.left = pk.left.Sub(take)
			need = need.Sub(take)
			drawn = drawn.Add(take)
		}
		res = aiRating{consumed: consumed, fromPacks: drawn, overage: need}
		unbilled = outside
	}
	return res, unbilled
}
