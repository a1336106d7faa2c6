package marketplace

import (
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/pricebook"
)

// Source loads for [Advance] what neither the snapshot nor the delta
// holds. The engine calls it, and does no I/O itself.
type Source struct {
	// History returns every sale, refund and KYC change whose provider
	// (subject) is one of providers, whatever its time, as stored up to
	// the delta's position, and every payout recorded of them (one also
	// in the delta counts once, as the delta has it). Those of other
	// providers are ignored.
	History func(providers []string) (Input, error)
	// Orders returns every sale and refund naming one of orderIDs that
	// the snapshot counted: stored at or before its Position and dated
	// at or before its At. (The snapshot keeps only orders still held;
	// a refund or a sale after it naming an older order reads that
	// order's events.) Events of other orders are ignored.
	Orders func(orderIDs []string) (Input, error)
}

// base is what a ledger continued by [Advance] starts from.
type base struct {
	at    time.Time
	pairs map[pair]*PairState // providers continued from the snapshot
	group map[string]bool     // providers derived again from their whole history
}

// seed is a snapshot made ready for build.
type seed struct {
	base   base
	orders []*OrderState
	kyc    []KYCChange
}

func (l *Ledger) basePair(k pair) (*PairState, bool) {
	if l.base == nil {
		return nil, false
	}
	p, ok := l.base.pairs[k]
	return p, ok
}

// Advance continues snap with the events stored after it and gives the
// ledger [Derive] would give for the whole history, as far as what it
// answers for instants at or after snap.At: the same balances, payout
// runs with the same statements, and the same entries after snap.At. A
// nil snap is no history: Advance is then Derive(m, delta).
//
// delta holds the sales, refunds and KYC changes stored after the
// snapshot (stored after its Position, or dated after its At) and, in
// Payouts, the latest state of at least these recorded payouts: every
// one dated after snap.At, every failed one, and every one dated at or
// after the LastPayoutAt of its provider and currency in snap (every one
// of a provider and currency snap has no balance of). Every payout
// recorded will do too. A provider goes on from the snapshot, unless
//   - one of its sales or refunds in delta is dated at or before snap.At
//     (late: it changes effects the snapshot has summed up), or
//   - a payout of it dated at or before snap.At is not recorded as the
//     snapshot counted it (added, gone, or failed by then; see
//     rederivation.payoutsChanged for what is compared);
//
// such a provider is derived again from its whole history, loaded with
// history, as is every provider that shares an order id with one (a sale
// of it, or a refund naming it), transitively. A late KYC change needs no
// history: the snapshot keeps the change in force, which orders against
// it exactly as in the whole list.
//
// The result's Entries are every entry of the providers derived again
// and the entries after snap.At of the others; [Ledger.Rederives] says
// which stored entries to reconcile them with. Rejected lists the
// rejections among delta's events and the histories loaded: an event
// rejected before the snapshot is not reported again. Balances and runs
// must be asked for instants at or after snap.At.
func Advance(m pricebook.Marketplace, snap *Snapshot, delta Input, src Source) (*Ledger, error) {
	if snap == nil {
		return Derive(m, delta)
	}
	if err := checkTerms(m); err != nil {
		return nil, err
	}
	if err := snap.check(); err != nil {
		return nil, err
	}
	at := snap.At.UTC()
	r := newRederivation(m, snap, at, delta, src)
	if err := r.run(); err != nil {
		return nil, err
	}
	group, hist := r.group, r.hist

	in := Input{Sales: hist.Sales, Refunds: hist.Refunds, KYC: hist.KYC, Payouts: delta.Payouts}
	if len(hist.Payouts) > 0 { // the older payouts of the providers derived again
		known := make(map[string]bool, len(delta.Payouts))
		for _, p := range delta.Payouts {
			known[p.ID] = true
		}
		in.Payouts = slices.Clip(in.Payouts)
		for _, p := range hist.Payouts {
			if !known[p.ID] {
				in.Payouts = append(in.Payouts, p)
			}
		}
	}
	for _, s := range delta.Sales {
		if !group[s.Provider] {
			in.Sales = append(in.Sales, s)
		}
	}
	for _, r := range delta.Refunds {
		if !group[r.Provider] {
			in.Refunds = append(in.Refunds, r)
		}
	}
	for _, k := range delta.KYC {
		if !group[k.Provider] {
			in.KYC = append(in.KYC, k)
		}
	}
	sd := &seed{base: base{at: at, pairs: make(map[pair]*PairState, len(snap.Pairs)), group: group}}
	for _, p := range snap.Pairs {
		if group[p.Provider] {
			continue
		}
		c := p.Currency
		ps := p
		ps.Held, ps.Available, ps.Paid, ps.Opening = c.Round(p.Held), c.Round(p.Available), c.Round(p.Paid), c.Round(p.Opening)
		ps.LastPayoutAt = p.LastPayoutAt.UTC()
		ps.Lines = make([]StatementLine, len(p.Lines))
		for i, line := range p.Lines {
			line.Amount, line.At = c.Round(line.Amount), line.At.UTC()
			ps.Lines[i] = line
		}
		sd.base.pairs[pair{p.Provider, c.Code}] = &ps
	}
	for i := range snap.Orders {
		if o := &snap.Orders[i]; !group[o.Sale.Provider] {
			sd.orders = append(sd.orders, seedOrder(m, o))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.released)) {
		if o := r.released[id]; !group[o.Sale.Provider] {
			sd.orders = append(sd.orders, seedOrder(m, o))
		}
	}
	for _, k := range snap.KYC {
		if !group[k.Provider] {
			sd.kyc = append(sd.kyc, k)
		}
	}
	return build(m, in, sd)
}

// rederivation finds the providers to derive again from their whole
// history (see [Advance]), loads it, and reads the older orders the delta
func seedOrder(m pricebook.Marketplace, o *OrderState) *OrderState {
	s := o.Sale
	c := s.Currency
	s.At, s.Gross, s.Tax = s.At.UTC(), c.Round(s.Gross), c.Round(s.Tax)
	sp := split(m.PlatformFee, c, s.Gross, s.Tax, decimal.Zero)
	out := &OrderState{Sale: s, Original: sp, Current: sp, Refunded: c.Round(decimal.Zero), ReleaseAt: s.At.Add(m.RefundWindow),
		Refunds: make([]Refund, 0, len(o.Refunds))}
	for _, r := range o.Refunds {
		r.At, r.Amount = r.At.UTC(), c.Round(r.Amount)
		out.Refunded = out.Refunded.Add(r.Amount)
		out.Refunds = append(out.Refunds, r)
	}
	if len(out.Refunds) > 0 {
		out.Current = split(m.PlatformFee, c, s.Gross, s.Tax, out.Refunded)
	}
	return out
}

// Rederives reports whether a stored ledger entry of provider dated at is
// one this ledger derives again, and so one to reconcile its Entries
// with: on a ledger from [Derive] every entry; on one from [Advance] the
// entries of the providers derived again from their history
// ([Ledger.Rederived]) and every entry after the snapshot.
func (l *Ledger) Rederives(provider string, at time.Time) bool {
	return l.base == nil || l.base.group[provider] || at.After(l.base.at)
}

// Rederived returns the providers [Advance] derived again from their
// whole history, sorted; nil on a ledger from [Derive].
func (l *Ledger) Rederived() []string {
	if l.base == nil {
		return nil
	}
	return sortedKeys(l.base.group)
}
