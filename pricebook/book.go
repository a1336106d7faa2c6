package pricebook

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// Book is a validated price book. Treat it as read-only.
type Book struct {
	// Version identifies the book; every invoice records it.
	Version string
	// Currencies are the currencies every price of the book is given in,
	// in file order.
	Currencies  []money.Currency
	Plans       map[string]*Plan
	Addons      map[string]*Addon
	Terms       map[schemas.Term]Term
	Marketplace Marketplace

	source []byte // canonical source, see [Book.Source]
}

// Source returns the book's canonical source: the file as [Parse] read
// it, compact JSON with object keys sorted. Parsing it gives the same
// book; two files differing only in layout have the same source. It is
// what an [Archive] keeps of each version.
func (b *Book) Source() []byte { return bytes.Clone(b.source) }

// Prices is one price in every currency of the book, by ISO 4217 code.
type Prices map[string]decimal.Decimal

// In returns the price in currency c, or an error wrapping
// [ErrUnpricedCurrency].
func (p Prices) In(c money.Currency) (decimal.Decimal, error) {
	d, ok := p[c.Code]
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("pricing in %s: %w", c.Code, ErrUnpricedCurrency)
	}
	return d, nil
}

// Plan is one plan of the book.
type Plan struct {
	Key  string
	Base Prices // per month; a fixed fee (at most the currency's minor-unit digits)
	// Seats has an entry for every seat type of [schemas.SeatTypes].
	Seats map[schemas.SeatType]Seat
	// Limits are the seat limits; a seat type in no limit is unlimited. A
	// limit over several seat types is shared (business: learners and
	// authors together at most 250).
	Limits     []Limit
	AIIncluded decimal.Decimal // credits included per month
	AIOverage  Prices          // per credit; a unit price, any number of digits
	// Entitlements is the plan's row of the matrix (SPEC §6): a value for
	// every capability of [Capabilities]. Nil only in a book archived
	// before the matrix existed ([Book.HasMatrix]).
	Entitlements map[Capability]EntitlementValue
	// Terms are the only terms the plan is sold on; nil means every term
	// of the book (pilot: "pilot" only).
	Terms []schemas.Term
	// Flat is a fixed fee for a whole engagement instead of a monthly base
	// (pilot: 2,500.00 for 3 months); nil for a monthly plan.
	Flat *Flat
}

// TermPilot is the term of a plan with a [Flat] fee (SPEC §1, §8). It is
// not a term of [schemas.Terms]: the pilot lifecycle (issue 15) is not
// rated yet, and ingest refuses a pilot subscription ([Book.CheckEvent]).
const TermPilot schemas.Term = "pilot"

// Flat is the fixed fee of an engagement of a number of months.
type Flat struct {
	Price  Prices // for the whole engagement; a fixed fee
	Months int64
}

// LimitOf returns the limit that covers seat type st (shared with other
// seat types where Limit.SeatTypes lists several); ok is false when st is
// unlimited on the plan.
func (p *Plan) LimitOf(st schemas.SeatType) (l Limit, ok bool) {
	for _, l := range p.Limits {
		if slices.Contains(l.SeatTypes, st) {
			return l, true
		}
	}
	return Limit{}, false
}

// Seat is the pricing of one seat type on a plan.
type Seat struct {
	Included int64
	Price    Prices // per seat and month; a fixed fee
}

// Limit is a cap on the seats of one or more types assigned at the same
// time.
type Limit struct {
	SeatTypes []schemas.SeatType
	Max       int64
}

// Addon is a recurring monthly add-on. Its key is a [Capability]; the
// matrix says on which plans it is sold, included or not available
// ([Book.AddonOn]).
type Addon struct {
	Key   string
	Price Prices // per month; a fixed fee
	// Plans are the plans the add-on is sold on, in a book archived before
	// the matrix existed (nil there means every plan). A book with the
	// matrix leaves it nil: the matrix decides.
	Plans []string
}

// Term is a subscription term and its discount on recurring fees.
type Term struct {
	Key      schemas.Term
	Discount decimal.Decimal // a fraction in [0, 1): 0.20 is 20 %
}

// Prepaid reports whether the term is paid upfront per contract year.
func (t Term) Prepaid() bool { return t.Key == schemas.TermAnnual || t.Key == schemas.TermMultiYear }

// Marketplace holds the marketplace terms of SPEC §2.
type Marketplace struct {
	PlatformFee    decimal.Decimal // fraction of the net sale, in [0, 1)
	RefundWindow   time.Duration   // a sale's share is held this long
	MinimumPayout  Minimums        // per payout currency; a parsed book covers every currency
	PayoutSchedule string          // "monthly": on the 1st at 00:00 UTC
}

// Minimums is the minimum payout of every payout currency: an explicit
// amount for some currencies, and a default, in major units, for every
// other one. A marketplace sale may be in any active ISO 4217 currency
// (not only the book's billing currencies), so a book that [Parse]
// accepts has a minimum for each of them ([money.Currencies]).
type Minimums struct {
	// Amounts are the explicit minimums by ISO 4217 code, each with at
	// most the currency's minor-unit digits.
	Amounts Prices
	// Default is the minimum of every currency not in Amounts, in major
	// units ("50": 50.00 USD, 50 KRW, 50.000 KWD); nil when the book sets
	// none, in which case Amounts must list every currency.
	Default *decimal.Decimal
}

// In returns the minimum payout in currency c, at the currency's scale,
// or an error wrapping [ErrNoMinimumPayout].
func (m Minimums) In(c money.Currency) (decimal.Decimal, error) {
	if d, ok := m.Amounts[c.Code]; ok {
		return d, nil
	}
	if m.Default != nil && -m.Default.Exponent() <= c.MinorUnits {
		return c.Round(*m.Default), nil
	}
	return decimal.Decimal{}, fmt.Errorf("minimum payout in %s: %w", c.Code, ErrNoMinimumPayout)
}

// Missing returns the currencies among cs that have no minimum payout:
// none for a parsed book.
func (m Minimums) Missing(cs []money.Currency) []money.Currency {
	var out []money.Currency
	for _, c := range cs {
		if _, err := m.In(c); err != nil {
			out = append(out, c)
		}
	}
	return out
}

// Plan returns the plan with the given key, or an error wrapping
// [ErrUnknownPlan].
func (b *Book) Plan(key string) (*Plan, error) {
	p, ok := b.Plans[key]
	if !ok {
		return nil, fmt.Errorf("looking up plan %q in price book %s: %w", key, b.Version, ErrUnknownPlan)
	}
	return p, nil
}

// Addon returns the add-on with the given key, or an error wrapping
// [ErrUnknownAddon].
func (b *Book) Addon(key string) (*Addon, error) {
	a, ok := b.Addons[key]
	if !ok {
		return nil, fmt.Errorf("looking up add-on %q in price book %s: %w", key, b.Version, ErrUnknownAddon)
	}
	return a, nil
}

// Term returns the term, or an error wrapping [ErrUnknownTerm].
func (b *Book) Term(t schemas.Term) (Term, error) {
	term, ok := b.Terms[t]
	if !ok {
		return Term{}, fmt.Errorf("looking up term %q in price book %s: %w", t, b.Version, ErrUnknownTerm)
	}
	return term, nil
}

// Currency returns the book currency with the given code, or an error
// wrapping [ErrUnpricedCurrency].
func (b *Book) Currency(code string) (money.Currency, error) {
	for _, c := range b.Currencies {
		if c.Code == code {
			return c, nil
		}
	}
	return money.Currency{}, fmt.Errorf("looking up currency %q in price book %s: %w", code, b.Version, ErrUnpricedCurrency)
}

// PlanPrices is a plan resolved in one currency: what rating needs.
type PlanPrices struct {
	Plan       string
	Currency   money.Currency
	Base       decimal.Decimal
	Seats      map[schemas.SeatType]SeatPrice
	Limits     []Limit
	AIIncluded decimal.Decimal
	AIOverage  decimal.Decimal
}

// SeatPrice is one seat type of a plan resolved in one currency.
type SeatPrice struct {
	Included int64
	Price    decimal.Decimal
}

// PlanIn resolves the plan in currency c. Errors wrap [ErrUnknownPlan] or
// [ErrUnpricedCurrency].
func (b *Book) PlanIn(plan string, c money.Currency) (PlanPrices, error) {
	p, err := b.Plan(plan)
	if err != nil {
		return PlanPrices{}, err
	}
	if _, err := b.Currency(c.Code); err != nil {
		return PlanPrices{}, err
	}
	// Validation guarantees every price has every book currency.
	out := PlanPrices{
		Plan:       p.Key,
		Currency:   c,
		Base:       p.Base[c.Code],
		Seats:      make(map[schemas.SeatType]SeatPrice, len(p.Seats)),
		Limits:     p.Limits,
		AIIncluded: p.AIIncluded,
		AIOverage:  p.AIOverage[c.Code],
	}
	for st, s := range p.Seats {
		out.Seats[st] = SeatPrice{Included: s.Included, Price: s.Price[c.Code]}
	}
	return out, nil
}

// AddonIn returns the monthly price of the add-on on the plan in currency
// c: its price where the plan sells it, zero where the plan includes it
// ([AddonIncluded]). Errors wrap [ErrUnknownAddon], [ErrUnknownPlan],
// [ErrAddonNotAllowed] or [ErrUnpricedCurrency].
func (b *Book) AddonIn(addon, plan string, c money.Currency) (decimal.Decimal, error) {
	on, err := b.AddonOn(addon, plan)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if _, err := b.Currency(c.Code); err != nil {
		return decimal.Decimal{}, err
	}
	if on == AddonIncluded {
		return c.Round(decimal.Zero), nil
	}
	return b.Addons[addon].Price[c.Code], nil
}
