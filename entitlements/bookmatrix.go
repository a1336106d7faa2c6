package entitlements

import "github.com/tally-billing/tally/pricebook"

// BookMatrix is the [Matrix] of a price book: the SPEC §6 matrix each of
// its plans carries (docs/entitlements.md, "The matrix"). A book without
// the matrix (a version archived before it) knows no cell, so every plan
// answers plan_not_in_matrix.
func BookMatrix(b *pricebook.Book) Matrix { return bookMatrix{b} }

type bookMatrix struct{ b *pricebook.Book }

func (m bookMatrix) Entitlement(plan, capability string) (string, bool) {
	c, ok := pricebook.ParseCapability(capability)
	if !ok {
		return "", false
	}
	v, ok := m.b.Entitlement(plan, c)
	return string(v), ok
}

// Capabilities lists the matrix's capabilities in the price book's order
// (sorted by key).
func (bookMatrix) Capabilities() []string {
	cs := pricebook.Capabilities()
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}
