package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// Invoice statuses.
const (
	// StatusFinalized: rated and frozen; not yet handed to Stripe.
	StatusFinalized = "finalized"
	// StatusNotSent: finalized, and Tally runs without a Stripe key (dry run).
	StatusNotSent = "not_sent"
	// StatusSent: finalized in Stripe.
	StatusSent = "sent"
	// StatusSendFailed: Stripe refused it (a 4xx); the reason says why.
	StatusSendFailed = "send_failed"
)

// Invoice kinds.
const (
	KindMonthly = "monthly"
	KindUpfront = "upfront"
	KindUpgrade = "upgrade"
)

// Invoice is a finalized invoice as Tally stores and serves it.
type Invoice struct {
	ID               string          `json:"id"`
	Tenant           string          `json:"tenant"`
	Period           string          `json:"period"`
	Kind             string          `json:"kind"`
	Currency         string          `json:"currency"`
	PriceBookVersion string          `json:"price_book_version"`
	Lines            []Line          `json:"lines"`
	Subtotal         decimal.Decimal `json:"subtotal"`
	Discount         decimal.Decimal `json:"discount"`
	Total            decimal.Decimal `json:"total"`
	Status           string          `json:"status"`
	StatusReason     string          `json:"status_reason,omitempty"`
	StripeCustomerID string          `json:"stripe_customer_id,omitempty"`
	StripeInvoiceID  string          `json:"stripe_invoice_id,omitempty"`
	IssuedAt         time.Time       `json:"issued_at"`
}

// Line is one invoice line. Amount is rounded once to the currency's minor
// unit, half-to-even; an invoice's total is the sum of its lines' amounts.
type Line struct {
	Kind string `json:"kind"`
	// Item is what the line bills, unique per (invoice, period), e.g.
	// "base:team", "seats:learner"; adjustments keep the item they adjust.
	Item        string          `json:"item"`
	Description string          `json:"description"`
	Quantity    decimal.Decimal `json:"quantity"`
	UnitPrice   decimal.Decimal `json:"unit_price"`
	Amount      decimal.Decimal `json:"amount"`
	Period      string          `json:"period"`
	Flags       []string        `json:"flags,omitempty"`
	// Adjusts is, for an adjustment line, the kind of line it corrects.
	Adjusts string `json:"adjusts,omitempty"`
	// What the line bills, as values (rating.Facts; an adjustment has the
	// adjusted line's): finance reads these, never the description.
	Plan     string `json:"plan,omitempty"`
	Term     string `json:"term,omitempty"`
	SeatType string `json:"seat_type,omitempty"`
	Meter    string `json:"meter,omitempty"`
	// Used: a seats line's peak, an ai_overage line's credits consumed.
	Used decimal.Decimal `json:"used,omitzero"`
	// Included: the plan's included seats, or AI credit allowance.
	Included decimal.Decimal `json:"included,omitzero"`
	// Committed: the committed seats of a prepaid term.
	Committed decimal.Decimal `json:"committed,omitzero"`
	// FromPacks: the AI credits an ai_overage line's month drew from packs.
	FromPacks decimal.Decimal `json:"from_packs,omitzero"`
	// PackCredits: the credits of the pack an ai_pack line bills.
	PackCredits decimal.Decimal `json:"pack_credits,omitzero"`
}

// InvoiceID is the deterministic id of a tenant's invoice of one kind for
// one period (and, for upgrades, the instant of the upgrade).
func InvoiceID(tenant, period, kind, discriminator string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + period + "\x00" + kind + "\x00" + discriminator))
	return "inv_" + hex.EncodeToString(h[:12])
}

// InvoiceFilter selects invoices; empty fields match everything.
type InvoiceFilter struct {
	Tenant string
	Period string
	ID     string
}

// MarshalJSON writes amounts as decimal strings with the currency's
// minor-unit digits; quantities and unit prices keep theirs.
func (inv Invoice) MarshalJSON() ([]byte, error) {
	type line struct {
		Line
		Amount string `json:"amount"`
	}
	type invoice Invoice
	out := struct {
		invoice
		Lines    []line `json:"lines"`
		Subtotal string `json:"subtotal"`
		Discount string `json:"discount"`
		Total    string `json:"total"`
	}{
		invoice:  invoice(inv),
		Lines:    make([]line, len(inv.Lines)),
		Subtotal: money.FormatCode(inv.Subtotal, inv.Currency),
		Discount: money.FormatCode(inv.Discount, inv.Currency),
		Total:    money.FormatCode(inv.Total, inv.Currency),
	}
	for i, l := range inv.Lines {
		out.Lines[i] = line{Line: l, Amount: money.FormatCode(l.Amount, inv.Currency)}
	}
	return json.Marshal(out)
}

// fromRating turns a rated invoice into a stored one, status finalized.
func fromRating(inv rating.Invoice, discriminator string, p Period) Invoice {
	out := Invoice{
		ID:     InvoiceID(inv.Tenant, p.String(), string(inv.Kind), discriminator),
		Tenant: inv.Tenant, Period: inv.Period, Kind: string(inv.Kind), Currency: inv.Currency.Code,
		PriceBookVersion: inv.PriceBookVersion, Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total,
		Status: StatusFinalized, IssuedAt: inv.IssuedAt.UTC(),
	}
	for _, l := range inv.Lines {
		out.Lines = append(out.Lines, fromRatingLine(l))
	}
	return out
}

func fromRatingLine(l rating.Line) Line {
	f := l.Facts
	return Line{Kind: string(l.Kind), Item: l.Item, Description: l.Description,
		Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags,
		Adjusts: string(l.Adjusts), Plan: f.Plan, Term: string(f.Term), SeatType: string(f.SeatType), Meter: string(f.Meter),
		Used: f.Used, Included: f.Included, Committed: f.Committed, FromPacks: f.FromPacks, PackCredits: f.PackCredits}
}

// toRating turns a stored invoice back into the rating engine's form.
func toRating(inv Invoice) (rating.Invoice, error) {
	cur, err := money.LookupCurrency(inv.Currency)
	if err != nil {
		return rating.Invoice{}, err
	}
	out := rating.Invoice{Tenant: inv.Tenant, Kind: rating.InvoiceKind(inv.Kind), Period: inv.Period, IssuedAt: inv.IssuedAt,
		Currency: cur, PriceBookVersion: inv.PriceBookVersion, Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total}
	for _, l := range inv.Lines {
		out.Lines = append(out.Lines, toRatingLine(l))
	}
	return out, nil
}

func toRatingLine(l Line) rating.Line {
	return rating.Line{Kind: rating.LineKind(l.Kind), Item: l.Item, Description: l.Description, Quantity: l.Quantity,
		UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags, Adjusts: rating.LineKind(l.Adjusts),
		Facts: rating.Facts{Plan: l.Plan, Term: schemas.Term(l.Term), SeatType: schemas.SeatType(l.SeatType),
			Meter: rating.Meter(l.Meter), Used: l.Used, Included: l.Included, Committed: l.Committed,
			FromPacks: l.FromPacks, PackCredits: l.PackCredits}}
}
