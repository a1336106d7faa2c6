package rating

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// ChangeKind is the kind of a subscription event.
type ChangeKind string

// The subscription events of SPEC §1.
const (
	Started  ChangeKind = "started"  // subscription.started
	Changed  ChangeKind = "changed"  // subscription.changed
	Canceled ChangeKind = "canceled" // subscription.canceled
)

// SubscriptionChange is one subscription.* event of a tenant, effective at
// At. Subscription is the event's data for Started and Changed and is
// ignored for Canceled.
type SubscriptionChange struct {
	At           time.Time
	Kind         ChangeKind
	Subscription schemas.Subscription
}

// ChangeOf is the rating input of a subscription event (started,
// changed or canceled): billing's close and the live tenant state read
// the same change from it.
func ChangeOf(e *schemas.Event) SubscriptionChange {
	c := SubscriptionChange{At: e.Time}
	switch e.Type {
	case schemas.TypeSubscriptionStarted:
		c.Kind = Started
	case schemas.TypeSubscriptionChanged:
		c.Kind = Changed
	default:
		c.Kind = Canceled
	}
	if sub, ok := e.Data.(*schemas.Subscription); ok {
		c.Subscription = *sub
	}
	return c
}

// Segment is a stretch of time with one subscription in effect (after the
// prepaid rules: a downgrade inside a contract year only shows from the
// next contract year).
type Segment struct {
	From, To time.Time // [From, To); To is the horizon asked for when open
	Sub      Sub
	// ContractStart is the start of the current contract year for prepaid
	// terms, zero for monthly.
	ContractStart time.Time
}

// Sub is a subscription resolved against the price book in its currency.
type Sub struct {
	Plan      string
	Term      schemas.Term
	TermYears int32
	Currency  money.Currency
	Committed map[schemas.SeatType]int64 // only for prepaid terms; nil for monthly
	Addons    []string                   // the priced add-ons, sorted; one the plan includes bills nothing and is not here
	Unsold    []string                   // add-ons named that the book does not sell on the plan: neither billed nor entitled (sorted)
	Prices    pricebook.PlanPrices
	AddonFees map[string]decimal.Decimal // monthly price of each add-on
	Discount  decimal.Decimal            // of the term
}

// Prepaid reports whether the term is paid upfront per contract year.
func (s *Sub) Prepaid() bool { return s.Term == schemas.TermAnnual || s.Term == schemas.TermMultiYear }

// monthlyValue is what the subscription's recurring fees are worth per
// month after the term discount: the measure of upgrade against downgrade.
func (s *Sub) monthlyValue() decimal.Decimal {
	v := s.Prices.Base
	for _, a := range s.Addons {
		v = v.Add(s.AddonFees[a])
	}
	for _, st := range schemas.SeatTypes() {
		v = v.Add(s.Prices.Seats[st].Price.Mul(decimal.NewFromInt(s.Committed[st])))
	}
	return v.Mul(decimal.NewFromInt(1).Sub(s.Discount))
}

// key is a canonical text of what the subscription bills, for comparing
// two subscriptions.
func (s *Sub) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%d|%s|", s.Plan, s.Term, s.TermYears, s.Currency.Code)
	for _, st := range slices.Sorted(maps.Keys(s.Committed)) {
		fmt.Fprintf(&b, "%s=%d,", st, s.Committed[st])
	}
	b.WriteString("|" + strings.Join(s.Addons, ","))
	return b.String()
}

// yearEvent is an upfront invoice (Old nil) or an upgrade inside a
// contract year.
type yearEvent struct {
	At                 time.Time
	YearStart, YearEnd time.Time
	Old, New           *Sub
}

type timeline struct {
	segments []Segment
	years    []yearEvent // upfronts and upgrades, in time order
}

func resolve(book *pricebook.Book, s schemas.Subscription) (*Sub, error) {
	c, err := book.Currency(s.Currency.Code)
	if err != nil {
		return nil, err
	}
	prices, err := book.PlanIn(s.Plan, c)
	if err != nil {
		return nil, err
	}
	term, err := book.Term(s.Term)
	if err != nil {
		return nil, err
	}
	out := &Sub{
		Plan: s.Plan, Term: s.Term, TermYears: s.TermYears, Currency: c,
		Prices: prices, AddonFees: map[string]decimal.Decimal{}, Discount: term.Discount,
	}
	if p, _ := book.Plan(s.Plan); p.Flat != nil {
		return nil, fmt.Errorf("plan %q has a flat fee: the pilot lifecycle is not rated yet", s.Plan)
	}
	included := map[string]bool{}
	for _, a := range s.Addons {
		on, err := book.AddonOn(a, s.Plan)
		if errors.Is(err, pricebook.ErrAddonNotAllowed) {
			// Ingest refuses such a subscription; one stored before the
			// book stopped selling the add-on on the plan is rated
			// without it rather than not at all (SPEC §5: no accepted
			// event makes a tenant unbillable).
			out.Unsold = append(out.Unsold, a)
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, dup := out.AddonFees[a]; dup || included[a] {
			return nil, fmt.Errorf("add-on %q listed twice", a)
		}
		if on == pricebook.AddonIncluded {
			// The plan includes it: it costs nothing and bills no line.
			included[a] = true
			continue
		}
		fee, err := book.AddonIn(a, s.Plan, c)
		if err != nil {
			return nil, err
		}
		out.AddonFees[a] = fee
		out.Addons = append(out.Addons, a)
	}
	slices.Sort(out.Addons)
	slices.Sort(out.Unsold)
	if out.Prepaid() {
		out.Committed = map[schemas.SeatType]int64{}
		for st, n := range s.CommittedSeats {
			if _, ok := prices.Seats[st]; !ok {
				return nil, fmt.Errorf("committed seats: %w: %q", pricebook.ErrUnknownSeatType, st)
			}
			if n < 0 {
				return nil, fmt.Errorf("committed seats: %d %s seats", n, st)
			}
			out.Committed[st] = n
		}
	}
	return out, nil
}

// sortChanges resolves and orders the changes by time. Identical changes
// at one instant count once (Started and Changed with the same data are
// identical); different ones are an error.
func sortChanges(book *pricebook.Book, changes []SubscriptionChange) ([]SubscriptionChange, []*Sub, error) {
	type item struct {
		c   SubscriptionChange
		sub *Sub // nil for Canceled
	}
	items := make([]item, 0, len(changes))
	for _, c := range changes {
		it := item{c: c}
		switch c.Kind {
		case Started, Changed:
			sub, err := resolve(book, c.Subscription)
			if err != nil {
				return nil, nil, fmt.Errorf("rating subscription %s at %s: %w: %w", c.Kind, c.At.UTC().Format(time.RFC3339Nano), ErrInvalidSubscription, err)
			}
			it.sub = sub
		case Canceled:
		default:
			return nil, nil, fmt.Errorf("rating subscription change at %s: unknown kind %q: %w", c.At.UTC().Format(time.RFC3339Nano), c.Kind, ErrInvalidSubscription)
		}
		items = append(items, it)
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.c.At.Compare(b.c.At) })
	outC := make([]SubscriptionChange, 0, len(items))
	outS := make([]*Sub, 0, len(items))
	for i, it := range items {
		if i > 0 && it.c.At.Equal(items[i-1].c.At) {
			prev := items[i-1]
			same := (it.sub == nil) == (prev.sub == nil) && (it.sub == nil || it.sub.key() == prev.sub.key())
			if !same {
				return nil, nil, fmt.Errorf("rating subscription changes at %s: %w", it.c.At.UTC().Format(time.RFC3339Nano), ErrAmbiguousChanges)
			}
			continue
		}
		outC = append(outC, it.c)
		outS = append(outS, it.sub)
	}
	return outC, outS, nil
}

// buildTimeline applies the changes up to horizon (exclusive) under the
// rules of SPEC §3 (see README "Subscription timeline").
func buildTimeline(book *pricebook.Book, changes []SubscriptionChange, horizon time.Time) (*timeline, error) {
	sorted, subs, err := sortChanges(book, changes)
	if err != nil {
		return nil, err
	}
	tl := &timeline{}
	var (
		cur, pending *Sub
		segFrom      time.Time
		yearStart    time.Time // zero unless cur is prepaid
		yearIndex    int       // contract years since the anchor
		anchor       time.Time
	)
	yearEnd := func() time.Time { return anchor.AddDate(yearIndex+1, 0, 0) }
	closeSeg := func(at time.Time) {
		if cur != nil && at.After(segFrom) {
			tl.segments = append(tl.segments, Segment{From: segFrom, To: at, Sub: *cur, ContractStart: yearStart})
		}
		segFrom = at
	}
	startContract := func(at time.Time) {
		anchor, yearIndex, yearStart = at, 0, at
		tl.years = append(tl.years, yearEvent{At: at, YearStart: at, YearEnd: yearEnd(), New: cur})
	}
	// advance applies the contract-year boundaries up to and including t.
	advance := func(t time.Time) {
		for cur != nil && cur.Prepaid() && !yearEnd().After(t) {
			boundary := yearEnd()
			if boundary.Compare(horizon) >= 0 {
				return
			}
			closeSeg(boundary)
			if pending != nil {
				cur, pending = pending, nil
			}
			if !cur.Prepaid() {
				yearStart, anchor = time.Time{}, time.Time{}
				return
			}
			yearIndex++
			yearStart = boundary
			tl.years = append(tl.years, yearEvent{At: boundary, YearStart: boundary, YearEnd: yearEnd(), New: cur})
		}
	}
	for i, c := range sorted {
		if !c.At.Before(horizon) {
			break
		}
		advance(c.At)
		s := subs[i]
		switch {
		case s == nil: // canceled
			if cur != nil {
				closeSeg(c.At)
				cur, pending = nil, nil
				yearStart, anchor = time.Time{}, time.Time{}
			}
		case cur == nil:
			segFrom, cur = c.At, s
			if s.Prepaid() {
				startContract(c.At)
			}
		case cur.Currency != s.Currency:
			return nil, fmt.Errorf("rating subscription change at %s: %s to %s: %w", c.At.UTC().Format(time.RFC3339Nano), cur.Currency, s.Currency, ErrCurrencyChange)
		case !cur.Prepaid():
			closeSeg(c.At)
			cur = s
			if s.Prepaid() {
				startContract(c.At)
			}
		case s.Prepaid() && s.monthlyValue().GreaterThan(cur.monthlyValue()):
			// Upgrade inside the contract year: effective now.
			closeSeg(c.At)
			tl.years = append(tl.years, yearEvent{At: c.At, YearStart: yearStart, YearEnd: yearEnd(), Old: cur, New: s})
			cur, pending = s, nil
		case s.key() == cur.key():
			pending = nil
		default:
			// Downgrade (or a move to monthly): from the next contract year.
			pending = s
		}
	}
	advance(horizon)
	closeSeg(horizon)
	return tl, nil
}

// Segments returns the subscription segments of the tenant overlapping
// [from, to), clipped to it, in time order. Between two segments that do
// not touch the tenant was not subscribed.
func Segments(book *pricebook.Book, changes []SubscriptionChange, from, to time.Time) ([]Segment, error) {
	tl, err := buildTimeline(book, changes, to)
	if err != nil {
		return nil, err
	}
	return clip(tl.segments, from, to), nil
}

func clip(segs []Segment, from, to time.Time) []Segment {
	var out []Segment
	for _, s := range segs {
		if !s.To.After(from) || !s.From.Before(to) {
			continue
		}
		if s.From.Before(from) {
			s.From = from
		}
		if s.To.After(to) {
			s.To = to
		}
		out = append(out, s)
	}
	return out
}

// Cuts returns from and every instant inside (from, to) where the
// tenant's subscription starts, ends or changes, in order. The
// orchestrator may aggregate AI credit rows between two consecutive cuts
// (see [CreditUsage]).
func Cuts(book *pricebook.Book, changes []SubscriptionChange, from, to time.Time) ([]time.Time, error) {
	segs, err := Segments(book, changes, from, to)
	if err != nil {
		return nil, err
	}
	out := []time.Time{from}
	add := func(t time.Time) {
		if t.After(out[len(out)-1]) && t.Before(to) {
			out = append(out, t)
		}
	}
	for _, s := range segs {
		add(s.From)
		add(s.To)
	}
	return out, nil
}
