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
	"github.com/tally-billing/tally/pricebook"
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

// Source loads for [Advance] what neither the snapshot nor the delta
// holds. The engine calls it, and does no I/O itself.
type Source struct {
	// History returns every sale, refund and KYC change whose provider
	// (subject) is one of providers, whatever its time, as stored up to
	// the delta's position. Events of other providers are ignored.
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
// Payouts, every payout recorded so far. A provider goes on from the
// snapshot, unless
//   - one of its sales or refunds in delta is dated at or before snap.At
//     (late: it changes effects the snapshot has summed up), or
//   - a payout of it dated at or before snap.At is not recorded as the
//     snapshot counted it (added, gone, or failed by then);
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
// the snapshot are not recorded as the snapshot counted them. Per
// provider and currency it compares what the pair's balances and window
// rest on: the sum paid net of failures by then (Paid), the latest
// payout (the window's start), and the failures dated by then, which the
// snapshot keeps one by one (they are few). Payouts are recorded once and
// only their status changes, so a payout added or gone changes Paid, and
// a transfer failed by then is a failure the snapshot lacks.
func (r *rederivation) payoutsChanged() map[string]bool {
	type acc struct {
		paid decimal.Decimal
		last *Payout
	}
	recorded := make(map[pair]*acc)
	changed := make(map[string]bool)
	failed := make(map[string]*Payout, len(r.snap.Payouts))
	for i := range r.snap.Payouts {
		failed[r.snap.Payouts[i].ID] = &r.snap.Payouts[i]
	}
	for i := range r.delta.Payouts {
		p := &r.delta.Payouts[i]
		if p.At.After(r.at) {
			continue
		}
		k := pair{p.Provider, p.Currency.Code}
		a := recorded[k]
		if a == nil {
			a = &acc{}
			recorded[k] = a
		}
		failedBy := p.Status == PayoutFailed && !failedAt(*p).After(r.at)
		if !failedBy {
			a.paid = a.paid.Add(p.Amount)
		}
		if a.last == nil || cmp.Or(p.At.Compare(a.last.At), strings.Compare(p.ID, a.last.ID)) > 0 {
			a.last = p
		}
		c, counted := failed[p.ID]
		switch {
		case failedBy != counted:
			changed[p.Provider] = true
		case counted && (!c.FailedAt.Equal(failedAt(*p)) || !c.Amount.Equal(p.Amount)):
			changed[p.Provider] = true
		}
		delete(failed, p.ID)
	}
	for _, c := range failed { // counted failed, not recorded so any more
		changed[c.Provider] = true
	}
	pairs := make(map[pair]bool, len(r.snap.Pairs))
	for _, ps := range r.snap.Pairs {
		k := pair{ps.Provider, ps.Currency.Code}
		pairs[k] = true
		a := recorded[k]
		switch {
		case a == nil:
			if ps.LastPayoutID != "" || !ps.Paid.IsZero() {
				changed[ps.Provider] = true
			}
		case !a.paid.Equal(ps.Paid) || a.last.ID != ps.LastPayoutID:
			changed[ps.Provider] = true
		}
	}
	for k := range recorded {
		if !pairs[k] {
			changed[k.provider] = true
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
