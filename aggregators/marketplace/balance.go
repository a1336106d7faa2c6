package marketplace

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Balance is what a provider has in one currency at an instant.
type Balance struct {
	Provider string
	Currency money.Currency
	// Held is the share of sales younger than the hold, net of the refunds
	// made while they were held. Never negative.
	Held decimal.Decimal
	// Available is what a payout may pay: released shares, net of refunds
	// made after release, minus payouts made (failed ones given back).
	// Negative when refunds after a payout took back more than was left
	// (clawback); later releases offset it.
	Available decimal.Decimal
	// Paid is the sum of payouts made by the instant, net of failed ones
	// given back by then.
	Paid decimal.Decimal
}

// Balances returns the balance of every provider and currency with a ledger
// entry at or before asOf, by provider then currency code. Entries count
// when their time is ≤ asOf: a share is available at exactly sale time +
// hold.
func (l *Ledger) Balances(asOf time.Time) []Balance {
	keys := l.pairs()
	out := make([]Balance, 0, len(keys))
	for _, k := range keys {
		if b, ok := l.balance(k, asOf); ok {
			out = append(out, b)
		}
	}
	return out
}

// Balance returns the balance of one provider in one currency as of asOf
// (zeros if it has no entry by then).
func (l *Ledger) Balance(provider string, c money.Currency, asOf time.Time) Balance {
	b, ok := l.balance(pair{provider, c.Code}, asOf)
	if !ok {
		z := c.Round(decimal.Zero)
		return Balance{Provider: provider, Currency: c, Held: z, Available: z, Paid: z}
	}
	return b
}

// pairs returns every provider and currency with an entry, or with a
// balance in the snapshot the ledger continues, by provider then
// currency code.
func (l *Ledger) pairs() []pair {
	keys := make([]pair, 0, len(l.byPair))
	for k := range l.byPair {
		keys = append(keys, k)
	}
	if l.base != nil {
		for k := range l.base.pairs {
			if _, ok := l.byPair[k]; !ok {
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.provider, b.provider), strings.Compare(a.currency, b.currency))
	})
	return keys
}

// balance sums the pair's entries up to asOf, from the snapshot's balance
// when the ledger continues one for the pair (asOf is then at or after
// the snapshot; its entries all come later). ok is false when the pair
// has nothing by asOf.
func (l *Ledger) balance(k pair, asOf time.Time) (Balance, bool) {
	idx := l.byPair[k]
	var b Balance
	if bp, ok := l.basePair(k); ok {
		b = Balance{Provider: k.provider, Currency: bp.Currency, Held: bp.Held, Available: bp.Available, Paid: bp.Paid}
	} else {
		if len(idx) == 0 || l.Entries[idx[0]].At.After(asOf) {
			return Balance{}, false
		}
		c := l.Entries[idx[0]].Currency
		z := c.Round(decimal.Zero)
		b = Balance{Provider: k.provider, Currency: c, Held: z, Available: z, Paid: z}
	}
	for _, i := range idx {
		e := &l.Entries[i]
		if e.At.After(asOf) {
			break
		}
		b.Held = b.Held.Add(e.HeldDelta())
		b.Available = b.Available.Add(e.AvailableDelta())
		if e.Kind == EntryPayout || e.Kind == EntryPayoutFailed {
			b.Paid = b.Paid.Sub(e.Amount)
		}
	}
	return b, true
}
