package rating

import (
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Adjustments returns the adjustment lines that bring what was billed for
// a closed invoice in line with a re-rating of it (SPEC §3 item 6), for
// the tenant's next invoice. The finalized invoice is never changed.
//
// finalized is the invoice as finalized; earlier are the adjustment lines
// already billed for it on later invoices (lines of other periods are
// ignored); rerated is the same invoice rated again with everything now
// known (late events included) and the same price book version. Lines are
// matched by (Period, Item); each difference becomes one line of kind
// adjustment, with the original Period, the adjusted kind in Adjusts and
// the exact difference of two rounded amounts as Amount (no new
// rounding). Nothing to adjust returns nil.
func Adjustments(finalized Invoice, earlier []Line, rerated Invoice) ([]Line, error) {
	if finalized.Tenant != rerated.Tenant || finalized.Kind != rerated.Kind || finalized.Period != rerated.Period ||
		finalized.Currency != rerated.Currency || finalized.PriceBookVersion != rerated.PriceBookVersion {
		return nil, fmt.Errorf("adjusting %s %s invoice %s: re-rated as %s %s %s in %s with price book %s, billed in %s with %s: %w",
			finalized.Tenant, finalized.Kind, finalized.Period, rerated.Tenant, rerated.Kind, rerated.Period,
			rerated.Currency, rerated.PriceBookVersion, finalized.Currency, finalized.PriceBookVersion, ErrMismatch)
	}
	type key struct{ period, item string }
	type entry struct {
		kind   LineKind
		desc   string
		amount decimal.Decimal
		flags  []string
		facts  Facts
	}
	zero := finalized.Currency.Round(decimal.Zero)
	periods := map[string]bool{}
	var order []key
	billed, now := map[key]*entry{}, map[key]*entry{}
	add := func(m map[key]*entry, l Line, kind LineKind) {
		k := key{l.Period, l.Item}
		e, ok := m[k]
		if !ok {
			e = &entry{kind: kind, amount: zero}
			m[k] = e
			if !slices.Contains(order, k) {
				order = append(order, k)
			}
		}
		e.amount = e.amount.Add(l.Amount)
		if kind == l.Kind { // the original line names it best
			e.desc, e.flags, e.facts = l.Description, l.Flags, l.Facts
		} else {
			if e.desc == "" {
				e.desc = string(kind) + " " + l.Item
			}
			if e.facts.Meter == "" { // an earlier adjustment carries the facts it adjusted
				e.facts = l.Facts
			}
		}
		if e.facts.Meter == "" {
			e.facts.Meter = MeterOf(kind)
		}
	}
	if finalized.Kind == KindMonthly {
		// A monthly invoice bills its own period even when neither side
		// has a line left in it (everything billed by earlier adjustments
		// is then given back).
		periods[finalized.Period] = true
	}
	for _, l := range rerated.Lines {
		periods[l.Period] = true
		add(now, l, l.Kind)
	}
	for _, l := range finalized.Lines {
		periods[l.Period] = true
		add(billed, l, l.Kind)
	}
	for _, l := range earlier {
		if l.Kind == LineAdjustment && periods[l.Period] {
			add(billed, l, l.Adjusts)
		}
	}
	var out []Line
	for _, k := range order {
		was, is := zero, zero
		e := now[k]
		if b := billed[k]; b != nil {
			was = b.amount
			if e == nil {
				e = b
			}
		}
		if n := now[k]; n != nil {
			is = n.amount
		}
		diff := is.Sub(was)
		if diff.IsZero() {
			continue
		}
		out = append(out, Line{
			Kind: LineAdjustment, Item: k.item, Adjusts: e.kind,
			Description: fmt.Sprintf("adjustment for %s: %s (billed %s, now %s)", k.period, e.desc, money.FormatDecimal(finalized.Currency.Round(was)), money.FormatDecimal(finalized.Currency.Round(is))),
			Quantity:    decimal.NewFromInt(1),
			UnitPrice:   diff,
			Amount:      diff,
			Period:      k.period,
			Flags:       slices.Clone(e.flags),
			Facts:       e.facts,
		})
	}
	return out, nil
}
