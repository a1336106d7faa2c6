package marketplace

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/shopspring/decimal"
)

// Reconcile returns the entries to append to a stored, append-only ledger so
// that it matches a new derivation: afterwards, for every entry id, the
// stored rows of that id (the entry and the corrections whose Revises is
// that id) plus the returned ones sum to the derived amount, and ids no
// longer derived sum to zero. New ids are returned as they are; a changed
// or vanished amount gets a correction entry: same kind, bucket, time and
// references as the entry it corrects, Amount the difference, Revises the
// entry's id, and a deterministic ID (a hash of that id and the number of
// rows stored for it).
//
// Late events make corrections necessary: a refund dated before a hold
// release that was already recorded changes the release; a refund dated
// before another refund of the same order changes that refund's rounding;
// a refund dated before a payout moves amounts between share_reversal
// and clawback. Balances and payouts never depend on the stored ledger,
// only on the events, so they are right whether or not corrections have
// been stored yet.
//
// derived is usually the entries of [Derive] with At ≤ the current time (a
// future hold release may still change and is not stored yet). The
// result is in the order of derived, then vanished entries in stored order.
// It is written over derived's backing array (a run's hundreds of
// thousands of entries are not copied): derived must not be used after.
func Reconcile(stored, derived []Entry) []Entry {
	if len(stored) == 0 {
		return derived
	}
	type acc struct {
		sum   decimal.Decimal
		rows  int
		first int // index in stored
	}
	have := make(map[string]*acc, len(stored))
	order := make([]string, 0, len(stored))
	for i, e := range stored {
		id := e.ID
		if e.Revises != "" {
			id = e.Revises
		}
		a := have[id]
		if a == nil {
			a = &acc{sum: e.Amount.Sub(e.Amount), first: i}
			have[id] = a
			order = append(order, id)
		}
		a.sum = a.sum.Add(e.Amount)
		a.rows++
	}
	out := derived[:0] // entry i is read before out's i-th is written
	correct := func(id string, a *acc, model Entry, diff decimal.Decimal) {
		c := model
		c.Revises = id
		c.Amount = diff
		h := sha256.Sum256([]byte(id + "\x00" + strconv.Itoa(a.rows)))
		c.ID = "le_" + hex.EncodeToString(h[:16])
		out = append(out, c)
	}
	seen := make(map[string]bool, len(derived))
	for _, e := range derived {
		seen[e.ID] = true
		a := have[e.ID]
		switch {
		case a == nil:
			out = append(out, e)
		case !a.sum.Equal(e.Amount):
			correct(e.ID, a, e, e.Amount.Sub(a.sum))
		}
	}
	for _, id := range order {
		if a := have[id]; !seen[id] && !a.sum.IsZero() {
			model := stored[a.first]
			model.Revises = ""
			correct(id, a, model, a.sum.Neg())
		}
	}
	return out
}
