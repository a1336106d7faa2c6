package marketplace

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Snapshot is the state of the ledger as of a run instant At, for the
// events stored up to Position: everything a later derivation needs to go
// on from there without the history before it. It counts every effect
// with time ≤ At of the events stored at or before Position, and of the
// payouts recorded with time ≤ At (with the run's own payouts at At).
// Events stored at or before Position but dated after At are not in it:
// "after the snapshot" means stored after Position or dated after At.
type Snapshot struct {
	At time.Time
	// Position is the caller's: the highest stored position (stream
	// sequence) of the events the snapshot was derived from. The engine
	// neither sets nor reads it.
	Position uint64
	// Pairs are the balances and open statement windows of every provider
	// and currency with a ledger entry by At, by provider then currency.
	Pairs []PairState
	// Orders are the accepted sales dated at or before At and still held
	// at At (released after it), with their accepted refunds dated at or
	// before At, in effect order, by order id. Older orders are read from
	// their events when a later event names them ([Source.Orders]). Only
	// Sale and Refunds are read back; the other fields are worked out
	// again.
	Orders []OrderState
	// KYC is, per provider, the KYC change in force at At (a revocation
	// too), by provider.
	KYC []KYCChange
	// Payouts are the payouts dated at or before At whose failure is
	// dated at or before At too (status PayoutFailed, FailedAt), by time
	// then id. The others are in the pairs' Paid and LastPayoutID.
	Payouts []Payout
}

// PairState is a provider's state in one currency at a snapshot.
type PairState struct {
	Provider  string
	Currency  money.Currency
	Held      decimal.Decimal
	Available decimal.Decimal
	Paid      decimal.Decimal
	// LastPayoutID and LastPayoutAt name the latest payout with time ≤
	// the snapshot's At ("" and zero if none): the start of the next
	// statement window.
	LastPayoutID string
	LastPayoutAt time.Time
	// Opening is the available balance right after that payout (zero
	// without one), the next statement's carry-over.
	Opening decimal.Decimal
	// Lines are the statement lines of the available-balance effects from
	// that payout up to the snapshot's At, in effect order.
	Lines []StatementLine
}

func (s *Snapshot) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("checking the snapshot as of %s: %s: %w", s.At.Format(time.RFC3339Nano), fmt.Sprintf(format, args...), ErrInvalidSnapshot)
	}
	if s.At.IsZero() {
		return bad("no time")
	}
	for _, p := range s.Pairs {
		if p.Provider == "" || !knownCurrency(p.Currency) {
			return bad("balance of provider %q in %q", p.Provider, p.Currency.Code)
		}
	}
	for _, o := range s.Orders {
		if o.Sale.Provider == "" || o.Sale.OrderID == "" || !knownCurrency(o.Sale.Currency) || o.Sale.At.After(s.At) {
			return bad("order %q of provider %q", o.Sale.OrderID, o.Sale.Provider)
		}
	}
	return nil
}

// Snapshot returns the state of the ledger as of at, after the payouts
// made by the run at at (made: [Run.Payouts], not yet in the ledger's
// input; one already in it is not counted twice). On a ledger from
// [Advance], at must not be before the snapshot it continues. The
// caller sets Position.
func (l *Ledger) Snapshot(at time.Time, made []Payout) (*Snapshot, error) {
	at = at.UTC()
	if l.base != nil && at.Before(l.base.at) {
		return nil, fmt.Errorf("snapshot as of %s of a ledger continued from %s: %w",
			at.Format(time.RFC3339Nano), l.base.at.Format(time.RFC3339Nano), ErrInvalidSnapshot)
	}
	snap := &Snapshot{At: at}
	madeFor := make(map[pair]*Payout, len(made))
	for i := range made {
		p := &made[i]
		if !p.At.Equal(at) {
			return nil, fmt.Errorf("snapshot as of %s with payout %s made at %s: %w",
				at.Format(time.RFC3339Nano), p.ID, p.At.Format(time.RFC3339Nano), ErrInvalidSnapshot)
		}
		k := pair{p.Provider, p.Currency.Code}
		if !slices.ContainsFunc(l.payouts[k], func(q Payout) bool { return q.ID == p.ID }) {
			madeFor[k] = p
		}
	}
	for _, k := range l.pairs() {
		b, ok := l.balance(k, at)
		if !ok {
			continue
		}
		ps := PairState{Provider: k.provider, Currency: b.Currency, Held: b.Held, Available: b.Available, Paid: b.Paid}
		if p := madeFor[k]; p != nil {
			ps.Available, ps.Paid = ps.Available.Sub(p.Amount), ps.Paid.Add(p.Amount)
			ps.LastPayoutID, ps.LastPayoutAt, ps.Opening = p.ID, at, ps.Available
			snap.Pairs = append(snap.Pairs, ps)
			continue
		}
		var prev *Payout
		for i := range l.payouts[k] {
			if p := &l.payouts[k][i]; !p.At.After(at) {
				prev = p
			}
		}
		opening, lines, err := l.window(k, prev, at, b.Currency.Round(decimal.Zero))
		if err != nil {
			return nil, fmt.Errorf("taking the snapshot as of %s: %w", at.Format(time.RFC3339Nano), err)
		}
		ps.Opening, ps.Lines = opening, lines
		if prev != nil {
			ps.LastPayoutID, ps.LastPayoutAt = prev.ID, prev.At
		}
		snap.Pairs = append(snap.Pairs, ps)
	}

	for _, o := range l.orders {
		if o.Sale.At.After(at) || !o.ReleaseAt.After(at) {
			continue // not sold yet, or released: read from its events when named again
		}
		s := OrderState{Sale: o.Sale, Original: o.Original, Current: o.Original, Refunded: o.Sale.Currency.Round(decimal.Zero), ReleaseAt: o.ReleaseAt}
		for _, r := range o.Refunds {
			if r.At.After(at) {
				break // in effect order
			}
			s.Refunds = append(s.Refunds, r)
			s.Refunded = s.Refunded.Add(r.Amount)
		}
		if len(s.Refunds) > 0 {
			s.Current = split(l.terms.PlatformFee, o.Sale.Currency, o.Sale.Gross, o.Sale.Tax, s.Refunded)
		}
		snap.Orders = append(snap.Orders, s)
	}
	slices.SortFunc(snap.Orders, func(a, b OrderState) int { return strings.Compare(a.Sale.OrderID, b.Sale.OrderID) })

	for _, provider := range slices.Sorted(maps.Keys(l.kyc)) {
		changes := l.kyc[provider]
		if n := inForce(changes, at); n > 0 {
			snap.KYC = append(snap.KYC, changes[n-1])
		}
	}

	for _, ps := range l.payouts {
		for _, p := range ps {
			if p.At.After(at) {
				break
			}
			if p.Status == PayoutFailed && !p.FailedAt.After(at) {
				c := p
				c.Lines, c.FailedAt = nil, c.FailedAt.UTC()
				snap.Payouts = append(snap.Payouts, c)
			}
		}
	}
	slices.SortFunc(snap.Payouts, func(a, b Payout) int { return cmp.Or(a.At.Compare(b.At), strings.Compare(a.ID, b.ID)) })
	return snap, nil
}

// PayoutEntries returns the ledger entries of the payouts a run just made
// (as Derive will give them once they are recorded), for the run to store
// with its other entries: the next run continues from the snapshot taken
// after them and derives only what comes later.
func PayoutEntries(made []Payout) []Entry {
	out := make([]Entry, 0, len(made))
	for _, p := range made {
		e := Entry{Kind: EntryPayout, Provider: p.Provider, Currency: p.Currency, Amount: p.Currency.Round(p.Amount).Neg(),
			Bucket: BucketAvailable, At: p.At.UTC(), PayoutID: p.ID}
		e.ID = entryID(&e, "")
		out = append(out, e)
	}
	return out
}
