package marketplace

import (
	"fmt"
	"slices"
	"time"

	"github.com/tally-billing/tally/pricebook"
)

// names.
type rederivation struct {
	m     pricebook.Marketplace
	snap  *Snapshot
	at    time.Time
	delta Input
	src   Source

	held     map[string]bool     // order ids the snapshot holds
	owner    map[string]string   // order id → provider of its accepted sale, as far as known
	ordersOf map[string][]string // provider → its orders held in the snapshot
	namers   map[string][]string // order id → providers naming it in delta
	fetched  map[string]bool     // order ids asked of src.Orders
	released map[string]*OrderState

	group map[string]bool
	hist  Input
}

func newRederivation(m pricebook.Marketplace, snap *Snapshot, at time.Time, delta Input, src Source) *rederivation {
	r := &rederivation{m: m, snap: snap, at: at, delta: delta, src: src,
		held: make(map[string]bool, len(snap.Orders)), owner: make(map[string]string, len(snap.Orders)),
		ordersOf: make(map[string][]string), namers: make(map[string][]string), fetched: make(map[string]bool),
		released: make(map[string]*OrderState), group: make(map[string]bool)}
	for _, o := range snap.Orders {
		r.held[o.Sale.OrderID] = true
		r.owner[o.Sale.OrderID] = o.Sale.Provider
		r.ordersOf[o.Sale.Provider] = append(r.ordersOf[o.Sale.Provider], o.Sale.OrderID)
	}
	return r
}

func (r *rederivation) run() error {
	dirty := make(map[string]bool)
	var named []string
	for _, s := range r.delta.Sales {
		r.namers[s.OrderID] = append(r.namers[s.OrderID], s.Provider)
		named = append(named, s.OrderID)
		if !s.At.After(r.at) {
			dirty[s.Provider] = true
		}
	}
	for _, rf := range r.delta.Refunds {
		r.namers[rf.OrderID] = append(r.namers[rf.OrderID], rf.Provider)
		named = append(named, rf.OrderID)
		if !rf.At.After(r.at) {
			dirty[rf.Provider] = true
		}
	}
	for p := range r.payoutsChanged() {
		dirty[p] = true
	}
	// The older orders the delta names: their state as the snapshot had
	// it, and who owns them.
	if err := r.fetch(named); err != nil {
		return err
	}

	pending := sortedKeys(dirty)
	if len(pending) > 0 && r.src.History == nil {
		return fmt.Errorf("continuing the snapshot: %d providers need their history, and the source has none: %w", len(pending), ErrInvalidSnapshot)
	}
	for len(pending) > 0 {
		loaded, err := r.src.History(pending)
		if err != nil {
			return fmt.Errorf("loading the history of %d providers: %w", len(pending), err)
		}
		isNew := make(map[string]bool, len(pending))
		for _, p := range pending {
			r.group[p], isNew[p] = true, true
		}
		var named []string
		for _, p := range pending {
			named = append(named, r.ordersOf[p]...)
		}
		for _, s := range loaded.Sales {
			if isNew[s.Provider] {
				r.hist.Sales = append(r.hist.Sales, s)
				named = append(named, s.OrderID)
			}
		}
		for _, rf := range loaded.Refunds {
			if isNew[rf.Provider] {
				r.hist.Refunds = append(r.hist.Refunds, rf)
				named = append(named, rf.OrderID)
			}
		}
		for _, k := range loaded.KYC {
			if isNew[k.Provider] {
				r.hist.KYC = append(r.hist.KYC, k)
			}
		}
		for _, p := range loaded.Payouts {
			if isNew[p.Provider] {
				r.hist.Payouts = append(r.hist.Payouts, p)
			}
		}
		for _, s := range r.delta.Sales {
			if isNew[s.Provider] {
				named = append(named, s.OrderID)
			}
		}
		for _, rf := range r.delta.Refunds {
			if isNew[rf.Provider] {
				named = append(named, rf.OrderID)
			}
		}
		if err := r.fetch(named); err != nil {
			return err
		}
		next := make(map[string]bool)
		for _, order := range named {
			if p, ok := r.owner[order]; ok && !r.group[p] {
				next[p] = true
			}
			for _, p := range r.namers[order] {
				if !r.group[p] {
					next[p] = true
				}
			}
		}
		pending = sortedKeys(next)
	}
	return nil
}

// fetch reads the orders among ids that the snapshot does not hold and
// were not read yet, and derives each one's state as of the snapshot:
// whether and by whom it was sold, and its accepted refunds. An order is
// a ledger of its own events only (which sale of an order id wins, and
// which refunds of it are accepted, depend on nothing else).
func (r *rederivation) fetch(ids []string) error {
	var need []string
	want := make(map[string]bool)
	for _, id := range ids {
		if id != "" && !r.held[id] && !r.fetched[id] {
			r.fetched[id], want[id] = true, true
			need = append(need, id)
		}
	}
	if len(need) == 0 {
		return nil
	}
	if r.src.Orders == nil {
		return fmt.Errorf("continuing the snapshot: %d older orders are named, and the source has none: %w", len(need), ErrInvalidSnapshot)
	}
	slices.Sort(need)
	in, err := r.src.Orders(need)
	if err != nil {
		return fmt.Errorf("loading %d orders: %w", len(need), err)
	}
	var own Input
	for _, s := range in.Sales {
		if want[s.OrderID] && !s.At.After(r.at) {
			own.Sales = append(own.Sales, s)
		}
	}
	for _, rf := range in.Refunds {
		if want[rf.OrderID] && !rf.At.After(r.at) {
			own.Refunds = append(own.Refunds, rf)
		}
	}
	l, err := build(r.m, own, nil)
	if err != nil {
		return fmt.Errorf("deriving %d orders: %w", len(need), err)
	}
	for id, o := range l.orders {
		r.released[id] = o
		r.owner[id] = o.Sale.Provider
	}
	return nil
}

// payoutsChanged returns the providers whose payouts dated at or before
// the snapshot are not recorded as the snapshot counted them. It rests on
// how payouts are made: a run decides them, they are recorded once and
// only their status changes after, and a run never pays a provider and
// currency before its latest payout (CarryLaterPayout). So the payouts
// of a pair the snapshot counted, by its At, are its latest one
// (LastPayoutID) and the older ones, whose sum only failures change; a
// payout recorded since, dated by then, is dated at or after that latest
// one. Per pair it checks that the latest one is recorded and that no
// other is dated from it up to the snapshot; and it compares the
// failures dated by then, which the snapshot keeps one by one (they are
// few), with every failed payout recorded. The delta may therefore hold
// only the payouts [Advance] asks for, or every one.
func (r *rederivation) payoutsChanged() map[string]bool {
	changed := make(map[string]bool)
	failed := make(map[string]*Payout, len(r.snap.Payouts))
	for i := range r.snap.Payouts {
		failed[r.snap.Payouts[i].ID] = &r.snap.Payouts[i]
	}
	pairs := make(map[pair]*PairState, len(r.snap.Pairs))
	for i := range r.snap.Pairs {
		ps := &r.snap.Pairs[i]
		pairs[pair{ps.Provider, ps.Currency.Code}] = ps
	}
	lastSeen := make(map[pair]bool)
	for i := range r.delta.Payouts {
		p := &r.delta.Payouts[i]
		if p.At.After(r.at) {
			continue
		}
		failedBy := p.Status == PayoutFailed && !failedAt(*p).After(r.at)
		c, counted := failed[p.ID]
		switch {
		case failedBy != counted:
			changed[p.Provider] = true
		case counted && (!c.FailedAt.Equal(failedAt(*p)) || !c.Amount.Equal(p.Amount)):
			changed[p.Provider] = true
		}
		delete(failed, p.ID)
		k := pair{p.Provider, p.Currency.Code}
		ps, ok := pairs[k]
		switch {
		case !ok: // a payout of a pair the snapshot has no balance of
			changed[p.Provider] = true
		case ps.LastPayoutID != "" && p.At.Before(ps.LastPayoutAt):
			// an older payout, counted in Paid; read only with every one
		case p.ID != ps.LastPayoutID:
			changed[p.Provider] = true // recorded since, dated by then
		default:
			lastSeen[k] = true
		}
	}
	for _, c := range failed { // counted failed, not recorded so any more
		changed[c.Provider] = true
	}
	for k, ps := range pairs {
		if ps.LastPayoutID != "" && !lastSeen[k] { // the latest one is gone
			changed[ps.Provider] = true
		}
	}
	return changed
}

func failedAt(p Payout) time.Time {
	if p.FailedAt.IsZero() {
		return p.At
	}
	return p.FailedAt
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// seedOrder works an order of a snapshot out again from its sale and
// accepted refunds.
