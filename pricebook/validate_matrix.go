package pricebook

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tally-billing/tally/schemas"
)

// legacy reports whether the book is one archived before the entitlement
// matrix: no plan has "entitlements", and the book is read back from the
// archive. Any other book needs the matrix in every plan.
func (v *validator) legacy(f *fileBook) bool {
	var with, without []string
	for _, key := range slices.Sorted(maps.Keys(f.Plans)) {
		if f.Plans[key].Entitlements == nil {
			without = append(without, key)
		} else {
			with = append(with, key)
		}
	}
	if len(with) == 0 && v.archived {
		return true
	}
	for _, key := range without {
		v.fail("plans."+key+".entitlements", "is required: the plan's row of the entitlement matrix (SPEC §6), "+
			"a value for each of the %d capabilities", len(allCapabilities))
	}
	return false
}

// row validates one plan's row of the matrix: every capability once,
// nothing else, each value one of SPEC §6. Errors name the plan and the
// capability. A missing row is reported by [validator.legacy].
func (v *validator) row(path string, m map[string]string) map[Capability]EntitlementValue {
	if m == nil {
		return nil
	}
	out := make(map[Capability]EntitlementValue, len(allCapabilities))
	for _, key := range slices.Sorted(maps.Keys(m)) {
		c, ok := ParseCapability(key)
		if !ok {
			v.fail(path+"."+key, "unknown capability %q (want one of %v)", key, allCapabilities)
			continue
		}
		val := EntitlementValue(m[key])
		if !val.Valid() {
			v.fail(path+"."+key, "capability %q: unknown value %q (want one of %v)", key, m[key], EntitlementValues())
		}
		out[c] = val
	}
	for _, c := range allCapabilities {
		if _, ok := m[string(c)]; !ok {
			v.fail(path, "capability %q is missing", c)
		}
	}
	return out
}

// matrixAddon checks an add-on of a book with the matrix: its key is a
// capability, and it has no "plans" list (the matrix decides where it is
// sold: one truth).
func (v *validator) matrixAddon(path, key string, a fileAddon) {
	if _, ok := ParseCapability(key); !ok {
		v.fail(path, "add-on %q is not a capability of the entitlement matrix (an add-on is sold where its "+
			"capability's value is %q)", key, ValueAddon)
	}
	if a.Plans != nil {
		v.fail(path+".plans", "a book with the entitlement matrix sells an add-on where its capability is %q: "+
			"leave \"plans\" out", ValueAddon)
	}
}

// addonCells checks that every cell valued addon has an add-on to buy.
func (v *validator) addonCells(f *fileBook) {
	for _, plan := range slices.Sorted(maps.Keys(f.Plans)) {
		row := f.Plans[plan].Entitlements
		for _, key := range slices.Sorted(maps.Keys(row)) {
			if EntitlementValue(row[key]) != ValueAddon {
				continue
			}
			if _, ok := f.Addons[key]; !ok {
				v.fail("plans."+plan+".entitlements."+key, "plan %q sells capability %q as an add-on, but the book "+
					"has no add-on %q with a price", plan, key, key)
			}
		}
	}
}

// planTerms validates a plan's own terms and flat fee: a plan sold on
// the pilot term has a flat fee and the pilot term only, and the other
// way round.
func (v *validator) planTerms(path string, f filePlan, p *Plan) {
	if f.Terms != nil {
		if len(f.Terms) == 0 {
			v.fail(path+".terms", "must list at least one term, or be left out for every term")
		}
		for i, t := range f.Terms {
			tp := fmt.Sprintf("%s.terms[%d]", path, i)
			term := schemas.Term(t)
			if term != TermPilot && !slices.Contains(schemas.Terms(), term) {
				v.fail(tp, "unknown term %q (want %q or one of %v)", t, TermPilot, schemas.Terms())
			}
			if slices.Contains(p.Terms, term) {
				v.fail(tp, "term %q is listed twice", t)
			}
			p.Terms = append(p.Terms, term)
		}
	}
	if f.Flat != nil {
		months := v.count(path+".flat.months", f.Flat.Months)
		if months < 1 || months > 120 {
			v.fail(path+".flat.months", "must be from 1 to 120, got %q", f.Flat.Months)
		}
		p.Flat = &Flat{Price: v.prices(path+".flat.price", f.Flat.Price, true), Months: months}
	}
	pilot := slices.Contains(p.Terms, TermPilot)
	switch {
	case pilot && (p.Flat == nil || len(p.Terms) != 1):
		v.fail(path, "a plan on term %q has a \"flat\" fee and term %q only", TermPilot, TermPilot)
	case !pilot && p.Flat != nil:
		v.fail(path+".flat", "a flat fee is for a plan sold on term %q only (\"terms\": [%q])", TermPilot, TermPilot)
	}
}
