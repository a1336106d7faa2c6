package rating

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// CreditUsage is AI credits consumed by the tenant at At. A row may be a
// single ai.credits.consumed event or a sum of events, as long as all the
// events of a row lie between the same two consecutive instants of [Cuts]
// for the period, and At is one of them (for instance the first cut at or
// before the events). Rows need not be sorted.
type CreditUsage struct {
	At      time.Time
	Credits decimal.Decimal
}

// PackPurchase is one ai.credits.pack_purchased event.
type PackPurchase struct {
	At       time.Time
	PackID   string
	Credits  decimal.Decimal
	Price    decimal.Decimal
	Currency money.Currency
}

// Usage is what a tenant used, as far as it is known. Every slice may be
// in any order.
type Usage struct {
	// Seats are every seat event of the tenant before the period end
	// (seat state carries over between periods).
	Seats []aggregators.SeatEvent
	// Credits are the AI credits consumed in the period, and in every
	// earlier period since the month of the tenant's first pack purchase
	// (to know what the packs have left); earlier rows are ignored.
	Credits []CreditUsage
	// Packs are every pack purchase of the tenant before the period end.
	Packs []PackPurchase
}

// PackBalance is what is left of a pack at the end of a period.
type PackBalance struct {
	PackID    string
	At        time.Time
	Credits   decimal.Decimal
	Used      decimal.Decimal
	Remaining decimal.Decimal
}

// MonthResult is the rating of one tenant-month.
type MonthResult struct {
	Invoice Invoice
	// UnbilledCredits are the credits consumed in the period while the
	// tenant had no subscription: they belong on the unbilled report.
	UnbilledCredits decimal.Decimal
	// Packs are the tenant's packs purchased before the period end, oldest
	// first, with what is left after this period.
	Packs []PackBalance
}

// RateMonth rates the monthly invoice of one tenant for period p (SPEC §3
// items 1–4 and 7): base fees and add-ons of monthly terms prorated by
// exact time, seats above included and committed at the peak of
// subscribed time, AI overage after the allowance and the packs, packs
// bought in the period, and the term discount on recurring fees only.
// Prepaid fees are billed by [RatePrepaid], not here.
//
// A period without subscribed time returns [ErrNotSubscribed].
func RateMonth(book *pricebook.Book, tenant string, changes []SubscriptionChange, u Usage, p Period) (MonthResult, error) {
	tl, err := buildTimeline(book, changes, p.End())
	if err != nil {
		return MonthResult{}, fmt.Errorf("rating %s for %s: %w", tenant, p, err)
	}
	segs := clip(tl.segments, p.Start(), p.End())
	if len(segs) == 0 {
		return MonthResult{}, fmt.Errorf("rating %s for %s: %w", tenant, p, ErrNotSubscribed)
	}
	c := segs[0].Sub.Currency
	for _, s := range segs {
		if s.Sub.Currency != c {
			return MonthResult{}, fmt.Errorf("rating %s for %s: %s and %s in one period: %w", tenant, p, c, s.Sub.Currency, ErrCurrencyChange)
		}
	}
	last := &segs[len(segs)-1].Sub
	inv := Invoice{
		Tenant: tenant, Kind: KindMonthly, Period: p.String(), IssuedAt: p.End(),
		Currency: c, PriceBookVersion: book.Version,
	}

	inv.Lines = append(inv.Lines, recurringMonthly(book, segs, p)...)
	inv.Lines = append(inv.Lines, seatLines(segs, last, u.Seats, p)...)

	packs, err := sortedPacks(u.Packs, p.End())
	if err != nil {
		return MonthResult{}, fmt.Errorf("rating %s for %s: %w", tenant, p, err)
	}
	ai, unbilled := aiCredits(tl, u.Credits, packs, p)
	if ai.overage.IsPositive() {
		inv.Lines = append(inv.Lines, Line{
			Kind: LineAIOverage, Item: "ai_overage",
			Facts: Facts{Plan: last.Plan, Term: last.Term, Meter: MeterAICredits,
				Used: ai.consumed, Included: last.Prices.AIIncluded, FromPacks: ai.fromPacks},
			Description: fmt.Sprintf("AI credits %s: %s consumed, %s included, %s from packs, %s over",
				p, fmtQty(ai.consumed), fmtQty(last.Prices.AIIncluded), fmtQty(ai.fromPacks), fmtQty(ai.overage)),
			Quantity:  ai.overage,
			UnitPrice: last.Prices.AIOverage,
			Amount:    c.Round(ai.overage.Mul(last.Prices.AIOverage)),
			Period:    p.String(),
		})
	}
	for _, pk := range packs {
		if pk.At.Before(p.Start()) {
			continue
		}
		if pk.Currency != c {
			return MonthResult{}, fmt.Errorf("rating %s for %s: pack %s in %s, subscription in %s: %w", tenant, p, pk.PackID, pk.Currency, c, ErrCurrencyMismatch)
		}
		inv.Lines = append(inv.Lines, Line{
			Kind: LineAIPack, Item: pk.item,
			Facts:       Facts{Plan: last.Plan, Term: last.Term, Meter: MeterAIPacks, PackCredits: pk.Credits},
			Description: fmt.Sprintf("AI credit pack %s: %s credits, bought %s", pk.PackID, fmtQty(pk.Credits), stamp(pk.At)),
			Quantity:    decimal.NewFromInt(1),
			UnitPrice:   pk.Price,
			Amount:      c.Round(pk.Price),
			Period:      p.String(),
		})
	}
	inv.sum()

	res := MonthResult{Invoice: inv, UnbilledCredits: unbilled}
	for _, pk := range packs {
		res.Packs = append(res.Packs, PackBalance{
			PackID: pk.PackID, At: pk.At, Credits: pk.Credits,
			Used: pk.Credits.Sub(pk.left), Remaining: pk.left,
		})
	}
	return res, nil
}

// recurringMonthly bills base fees and add-ons of the monthly-term
// segments, prorated by time, one line per plan and per add-on, and the
// monthly term discount on them.
func recurringMonthly(book *pricebook.Book, segs []Segment, p Period) []Line {
	type fee struct {
		kind  LineKind
		item  string
		name  string
		price decimal.Decimal
		dur   time.Duration
		facts Facts
	}
	var fees []*fee
	// An add-on kept across a plan change is one line, of the later plan.
	add := func(kind LineKind, item, name string, price decimal.Decimal, d time.Duration, f Facts) {
		for _, x := range fees {
			if x.item == item {
				x.dur += d
				x.facts = f
				return
			}
		}
		fees = append(fees, &fee{kind, item, name, price, d, f})
	}
	var discount decimal.Decimal
	var lastMonthly Facts
	for _, s := range segs {
		if s.Sub.Prepaid() {
			continue
		}
		d := s.To.Sub(s.From)
		lastMonthly = subFacts(&s.Sub)
		add(LineBase, "base:"+s.Sub.Plan, s.Sub.Plan+" base fee", s.Sub.Prices.Base, d, lastMonthly)
		for _, a := range s.Sub.Addons {
			add(LineAddon, "addon:"+a, a+" add-on", s.Sub.AddonFees[a], d, lastMonthly)
		}
		discount = s.Sub.Discount // every monthly segment has the monthly term
	}
	c := segs[0].Sub.Currency
	month := p.End().Sub(p.Start())
	var lines []Line
	sum := c.Round(decimal.Zero)
	for _, f := range fees {
		desc := fmt.Sprintf("%s %s", f.name, p)
		if f.dur != month {
			desc += fmt.Sprintf(", %s of %s", seconds(f.dur), seconds(month))
		}
		l := feeLine(f.kind, f.item, desc, f.price, fraction(f.dur, month), c, p.String(), f.facts)
		sum = sum.Add(l.Amount)
		lines = append(lines, l)
	}
	if l, ok := discountLine("discount:"+string(schemas.TermMonthly),
		fmt.Sprintf("monthly term discount %s on recurring fees", percent(discount)), sum, discount, c, p.String(), lastMonthly); ok {
		lines = append(lines, l)
	}
	return lines
}

// seatLines bills, per seat type, the peak over the subscribed time of the
// period above included (and committed, on prepaid terms) seats, at the
// prices of the last subscription; lines over a plan limit are flagged.
func seatLines(segs []Segment, last *Sub, events []aggregators.SeatEvent, p Period) []Line {
	// Subscribed intervals: contiguous segments merged.
	type interval struct{ from, to time.Time }
	var ivs []interval
	for _, s := range segs {
		if n := len(ivs); n > 0 && ivs[n-1].to.Equal(s.From) {
			ivs[n-1].to = s.To
			continue
		}
		ivs = append(ivs, interval{s.From, s.To})
	}
	peakOf := func(evs []aggregators.SeatEvent) map[string]int64 {
		out := map[string]int64{}
		for _, iv := range ivs {
			for k, u := range aggregators.PeakSeats(evs, iv.from, iv.to) {
				out[k] = max(out[k], u.Peak)
			}
		}
		return out
	}
	peaks := peakOf(events)
	over := map[schemas.SeatType]string{}
	for _, l := range last.Prices.Limits {
		var peak int64
		if len(l.SeatTypes) == 1 {
			peak = peaks[string(l.SeatTypes[0])]
		} else {
			// A shared limit caps seats of several types held at the same
			// time: the peak of their sum, not the sum of their peaks.
			group := map[string]bool{}
			var names []string
			for _, st := range l.SeatTypes {
				group[string(st)] = true
				names = append(names, string(st))
			}
			var evs []aggregators.SeatEvent
			for _, e := range events {
				if group[e.SeatType] {
					e.UserID = e.SeatType + "\x00" + e.UserID
					e.SeatType = "group"
					evs = append(evs, e)
				}
			}
			peak = peakOf(evs)["group"]
			if peak > l.Max {
				for _, st := range l.SeatTypes {
					over[st] = fmt.Sprintf("over the shared limit of %d %s (peak %d)", l.Max, strings.Join(names, " + "), peak)
				}
			}
			continue
		}
		if peak > l.Max {
			over[l.SeatTypes[0]] = fmt.Sprintf("over the limit of %d", l.Max)
		}
	}
	c := last.Currency
	var lines []Line
	for _, st := range schemas.SeatTypes() {
		price := last.Prices.Seats[st]
		peak := peaks[string(st)]
		committed := last.Committed[st] // nil map for monthly terms: 0
		billed := max(0, peak-price.Included-committed)
		why, flagged := over[st]
		if billed == 0 && !flagged {
			continue
		}
		desc := fmt.Sprintf("%s seats %s: peak %d, %d included", st, p, peak, price.Included)
		if last.Prepaid() {
			desc += fmt.Sprintf(", %d committed", committed)
		}
		l := Line{
			Kind: LineSeats, Item: "seats:" + string(st),
			Facts: Facts{Plan: last.Plan, Term: last.Term, SeatType: st, Meter: MeterSeats,
				Used: decimal.NewFromInt(peak), Included: decimal.NewFromInt(price.Included), Committed: decimal.NewFromInt(committed)},
			Quantity:  decimal.NewFromInt(billed),
			UnitPrice: price.Price,
			Amount:    c.Round(price.Price.Mul(decimal.NewFromInt(billed))),
			Period:    p.String(),
		}
		if flagged {
			desc += "; " + why
			l.Flags = []string{FlagOverLimit}
		}
		l.Description = desc
		lines = append(lines, l)
	}
	return lines
}

func subscribedAt(segs []Segment, t time.Time) bool {
	for _, s := range segs {
		if !t.Before(s.From) && t.Before(s.To) {
			return true
		}
	}
	return false
}

// fmtQty prints a quantity without trailing zeros ("6250.5", "5000").
func fmtQty(d decimal.Decimal) string {
	r := d.Rat()
	if r.IsInt() {
		return r.Num().String()
	}
	s := money.FormatDecimal(d)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
