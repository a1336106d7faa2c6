// Package ledgertest holds test helpers for the marketplace ledger shared
// by the engine's tests and the payout service's.
package ledgertest

import (
	"cmp"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// Sums sums ledger rows per entry id (a correction counts for the id it
// revises, see marketplace.Reconcile) and lists the non-zero sums as
// "id amount" lines, sorted: two append-only ledgers that say the same
// thing give the same text, whatever corrections they took to get there.
func Sums(rows []marketplace.Entry) string {
	sums := map[string]decimal.Decimal{}
	for _, e := range rows {
		id := cmp.Or(e.Revises, e.ID)
		sums[id] = sums[id].Add(e.Amount)
	}
	var out []string
	for id, s := range sums {
		if !s.IsZero() {
			out = append(out, id+" "+s.String())
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
