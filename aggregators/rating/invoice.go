package rating

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// InvoiceKind is what an invoice bills.
type InvoiceKind string

// The invoice kinds.
const (
	KindMonthly InvoiceKind = "monthly" // a closed period: fees of monthly terms, usage, packs, adjustments
	KindUpfront InvoiceKind = "upfront" // a prepaid contract year
	KindUpgrade InvoiceKind = "upgrade" // an upgrade inside a prepaid contract year
)

// LineKind is what an invoice line bills.
type LineKind string

// The line kinds. Recurring kinds (base, addon, committed_seats) are the
// only ones a term discount applies to.
const (
	LineBase           LineKind = "base"
	LineAddon          LineKind = "addon"
	LineCommittedSeats LineKind = "committed_seats"
	LineSeats          LineKind = "seats" // seats above included and committed
	LineAIOverage      LineKind = "ai_overage"
	LineAIPack         LineKind = "ai_pack"
	LineDiscount       LineKind = "discount"
	LineAdjustment     LineKind = "adjustment"
)

// Recurring reports whether the kind is a recurring fee (the discount
// base).
func (k LineKind) Recurring() bool {
	return k == LineBase || k == LineAddon || k == LineCommittedSeats
}

// Line flags.
const (
	// FlagOverLimit marks a seats line whose peak exceeded a plan limit.
	FlagOverLimit = "over_limit"
	// FlagCredit marks an upgrade line that gives back the unused rest of
	// the replaced subscription (a negative amount).
	FlagCredit = "credit"
)

// Line is one invoice line.
type Line struct {
	Kind LineKind
	// Item identifies what the line bills, unique within (invoice, Period):
	// "base:team", "addon:white_label", "seats:learner", "ai_overage",
	// "pack:<pack id>", "discount:annual", "credit:base:team"... An
	// adjustment keeps the item it adjusts.
	Item        string
	Description string
	// Quantity × UnitPrice is the amount before rounding; for prorated
	// lines Quantity is the exact fraction cut to 9 digits for display,
	// and Amount comes from the exact fraction.
	Quantity  decimal.Decimal
	UnitPrice decimal.Decimal
	// Amount is rounded once to the currency's minor unit, half to even.
	// Discounts and credits are negative.
	Amount decimal.Decimal
	// Period is the period the line bills: YYYY-MM for monthly lines, the
	// contract year "start/end" (RFC 3339) for upfront and upgrade lines,
	// and for adjustments the original line's period.
	Period string
	Flags  []string
	// Adjusts is the kind of the line an adjustment corrects; empty for
	// other lines.
	Adjusts LineKind
	// Facts are what the line bills, as values: finance reads them, and
	// never the Description.
	Facts
}

// Meter is what a line bills from: the source of the events behind it.
type Meter string

// The meters.
const (
	MeterSubscription Meter = "subscription" // base, add-ons, committed seats, term discounts
	MeterSeats        Meter = "seats"        // seats above included and committed
	MeterAICredits    Meter = "ai_credits"   // AI overage
	MeterAIPacks      Meter = "ai_packs"     // AI credit packs bought
)

// MeterOf is the meter of a line kind (not adjustment: an adjustment has
// the meter of the kind it adjusts).
func MeterOf(k LineKind) Meter {
	switch k {
	case LineSeats:
		return MeterSeats
	case LineAIOverage:
		return MeterAICredits
	case LineAIPack:
		return MeterAIPacks
	}
	return MeterSubscription
}

// Facts are the typed figures a line is made from, set by the rule that
// makes it. An adjustment carries the facts of the line it adjusts (the
// re-rated line when there is one). Figures a kind does not have are zero.
type Facts struct {
	// Plan and Term are of the subscription the line bills: for an
	// upgrade's credit lines the replaced one; for usage lines (seats, AI
	// overage, packs) and a monthly discount the last subscription of the
	// period.
	Plan string
	Term schemas.Term
	// SeatType is set on seats and committed_seats lines.
	SeatType schemas.SeatType
	Meter    Meter
	// Used is the peak of a seats line, or the AI credits consumed during
	// subscribed time on an ai_overage line.
	Used decimal.Decimal
	// Included is the plan's included seats (seats) or AI credit allowance
	// (ai_overage).
	Included decimal.Decimal
	// Committed is the committed seats of a prepaid term (seats,
	// committed_seats).
	Committed decimal.Decimal
	// FromPacks is the AI credits drawn from packs (ai_overage).
	FromPacks decimal.Decimal
	// PackCredits is the credits of the pack bought (ai_pack).
	PackCredits decimal.Decimal
}

// Invoice is a rated invoice. It is a value: rating the same input twice
// yields equal invoices.
type Invoice struct {
	Tenant string
	Kind   InvoiceKind
	// Period is the billing period YYYY-MM: for monthly invoices the month
	// billed, for upfront and upgrade invoices the month they are issued.
	Period           string
	IssuedAt         time.Time // monthly: the period end; upfront: the contract year start; upgrade: the upgrade instant
	Currency         money.Currency
	PriceBookVersion string
	Lines            []Line
	// Subtotal is the sum of the lines that are not discounts, Discount the
	// sum of the discount lines (≤ 0 except for upgrade credits), Total =
	// Subtotal + Discount = the sum of all lines.
	Subtotal, Discount, Total decimal.Decimal
}

// Append adds lines (adjustments, typically) and recomputes the totals.
func (inv *Invoice) Append(lines ...Line) {
	inv.Lines = append(inv.Lines, lines...)
	inv.sum()
}

func (inv *Invoice) sum() {
	zero := inv.Currency.Round(decimal.Zero)
	inv.Subtotal, inv.Discount = zero, zero
	for _, l := range inv.Lines {
		if l.Kind == LineDiscount {
			inv.Discount = inv.Discount.Add(l.Amount)
		} else {
			inv.Subtotal = inv.Subtotal.Add(l.Amount)
		}
	}
	inv.Total = inv.Subtotal.Add(inv.Discount)
}
