package rating

import (
	"fmt"
	"math/big"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// RatePrepaid returns the upfront and upgrade invoices of one tenant
// issued in [from, to), in time order (SPEC §3 item 5):
//   - an upfront invoice at the start of each contract year of a prepaid
//     term: 12 × (base + add-ons + committed seats × seat price), minus the
//     term discount;
//   - an upgrade invoice when a subscription inside a contract year changes
//     to one worth more per month after discount: the new subscription for
//     the rest of the contract year, minus a credit for the rest of the old
//     one, each prorated by exact time of the contract year. Downgrades wait
//     for the next contract year and bill nothing now.
//
// Both depend only on the subscription changes: usage is billed by
// [RateMonth].
func RatePrepaid(book *pricebook.Book, tenant string, changes []SubscriptionChange, from, to time.Time) ([]Invoice, error) {
	tl, err := buildTimeline(book, changes, to)
	if err != nil {
		return nil, fmt.Errorf("rating prepaid terms of %s: %w", tenant, err)
	}
	var out []Invoice
	for _, y := range tl.years {
		if y.At.Before(from) {
			continue
		}
		inv := Invoice{
			Tenant: tenant, Period: PeriodOf(y.At).String(), IssuedAt: y.At,
			Currency: y.New.Currency, PriceBookVersion: book.Version,
		}
		label := yearLabel(y.YearStart, y.YearEnd)
		if y.Old == nil {
			inv.Kind = KindUpfront
			inv.Lines = yearLines(y.New, big.NewRat(12, 1), label, "", "12 months of contract year "+label)
		} else {
			inv.Kind = KindUpgrade
			rest := fraction(y.YearEnd.Sub(y.At), y.YearEnd.Sub(y.YearStart))
			months := new(big.Rat).Mul(big.NewRat(12, 1), rest)
			when := fmt.Sprintf("rest of contract year %s from %s (%s of %s)", label, stamp(y.At),
				seconds(y.YearEnd.Sub(y.At)), seconds(y.YearEnd.Sub(y.YearStart)))
			inv.Lines = yearLines(y.New, months, label, "", when)
			credit := yearLines(y.Old, new(big.Rat).Neg(months), label, "credit:", "unused "+when)
			for i := range credit {
				credit[i].Flags = []string{FlagCredit}
			}
			inv.Lines = append(inv.Lines, credit...)
		}
		inv.sum()
		out = append(out, inv)
	}
	return out, nil
}

// yearLines bills the recurring fees of s for the given number of months
// (negative for a credit), and the term discount on them.
func yearLines(s *Sub, months *big.Rat, period, itemPrefix, when string) []Line {
	c := s.Currency
	var lines []Line
	sum := c.Round(decimal.Zero)
	add := func(l Line) {
		sum = sum.Add(l.Amount)
		lines = append(lines, l)
	}
	add(feeLine(LineBase, itemPrefix+"base:"+s.Plan, fmt.Sprintf("%s base fee (%s term), %s", s.Plan, s.Term, when),
		s.Prices.Base, months, c, period, subFacts(s)))
	for _, a := range s.Addons {
		add(feeLine(LineAddon, itemPrefix+"addon:"+a, fmt.Sprintf("%s add-on, %s", a, when), s.AddonFees[a], months, c, period, subFacts(s)))
	}
	for _, st := range schemas.SeatTypes() {
		n := s.Committed[st]
		if n == 0 {
			continue
		}
		qty := new(big.Rat).Mul(months, big.NewRat(n, 1))
		f := subFacts(s)
		f.SeatType, f.Committed = st, decimal.NewFromInt(n)
		add(feeLine(LineCommittedSeats, itemPrefix+"committed_seats:"+string(st),
			fmt.Sprintf("%d committed %s seats, %s", n, st, when), s.Prices.Seats[st].Price, qty, c, period, f))
	}
	if l, ok := discountLine(itemPrefix+"discount:"+string(s.Term),
		fmt.Sprintf("%s term discount %s on recurring fees", s.Term, percent(s.Discount)), sum, s.Discount, c, period, subFacts(s)); ok {
		if itemPrefix != "" {
			l.Flags = []string{FlagCredit}
		}
		lines = append(lines, l)
	}
	return lines
}
