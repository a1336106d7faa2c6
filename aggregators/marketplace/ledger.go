package marketplace

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
)

// EntryKind is the effect a ledger entry records.
type EntryKind string

// The entry kinds and the sign of their amounts (README, "Sign
// convention"). Every amount is the change the effect makes to the account
// the kind names; the sale side (sale, refund) is what the buyer paid,
// the allocation side (tax, fee, share and their reversals, clawback) is
// who that money belongs to.
const (
	EntrySale          EntryKind = "sale"           // +gross, at the sale
	EntryTax           EntryKind = "tax"            // +tax, at the sale
	EntryFee           EntryKind = "fee"            // +platform fee, at the sale
	EntryShare         EntryKind = "share"          // +provider share, at the sale, into held
	EntryRefund        EntryKind = "refund"         // −amount refunded to the buyer
	EntryTaxRefund     EntryKind = "tax_refund"     // −tax part of a refund
	EntryFeeReversal   EntryKind = "fee_reversal"   // −fee given back by a refund
	EntryShareReversal EntryKind = "share_reversal" // −share taken back by a refund, from held or available
	EntryClawback      EntryKind = "clawback"       // −share taken back beyond the available balance (makes it negative)
	EntryHoldRelease   EntryKind = "hold_release"   // +share moved from held to available at sale time + hold
	EntryPayout        EntryKind = "payout"         // −amount paid out of available
	EntryPayoutFailed  EntryKind = "payout_failed"  // +amount of a refused transfer, back into available
)

// Bucket is the provider balance an entry moves.
type Bucket string

// The buckets. Entries of the sale and allocation sides that are not the
// provider's (sale, tax, fee and their reversals) have no bucket.
const (
	BucketNone      Bucket = ""
	BucketHeld      Bucket = "held"
	BucketAvailable Bucket = "available" // a hold_release moves from held into available
)

// Entry is one effect in the append-only ledger.
type Entry struct {
	// ID is deterministic: a hash of the kind and of the ids the entry
	// comes from, so deriving the ledger again yields the same ids.
	ID       string
	Kind     EntryKind
	Provider string
	Currency money.Currency
	Amount   decimal.Decimal // signed; exactly Currency.MinorUnits digits of scale
	Bucket   Bucket
	At       time.Time // when it takes effect (UTC)
	OrderID  string    // sale, refund, hold and clawback entries
	RefundID string    // refund entries and clawbacks
	PayoutID string    // payout entries
	// Revises is, on a correction made by [Reconcile], the ID of the entry
	// it corrects; "" on entries made by [Derive].
	Revises string
}

// HeldDelta is the change the entry makes to the provider's held balance.
func (e Entry) HeldDelta() decimal.Decimal {
	switch {
	case e.Kind == EntryHoldRelease:
		return e.Amount.Neg()
	case e.Bucket == BucketHeld:
		return e.Amount
	}
	return decimal.Zero
}

// AvailableDelta is the change the entry makes to the provider's available
// balance.
func (e Entry) AvailableDelta() decimal.Decimal {
	if e.Bucket == BucketAvailable {
		return e.Amount
	}
	return decimal.Zero
}

// OrderState is a sale and what the refunds accepted so far left of it.
type OrderState struct {
	Sale      Sale
	Original  Split           // the split of the sale
	Current   Split           // the split after every accepted refund
	Refunded  decimal.Decimal // cumulative accepted refunds, gross
	Refunds   []Refund        // accepted refunds, in effect order
	ReleaseAt time.Time       // sale time + hold: the share is available from this instant
}

// Ledger is the derived ledger of an [Input]: deterministic, a pure
// function of the input and the terms.
type Ledger struct {
	// Entries in effect order: by At; at one instant sales, then hold
	// releases, refunds, payouts, payout failures; then by ids.
	Entries []Entry
	// Rejected sales and refunds, in the same order.
	Rejected []*EventError

	terms   pricebook.Marketplace
	orders  map[string]*OrderState
	byPair  map[pair][]int         // entry indexes per provider and currency, in order
	payouts map[pair][]Payout      // previous payouts, by At then id
	kyc     map[string][]KYCChange // by At, revocations after verifications at one instant
	// base is, on a ledger continued from a [Snapshot] by [Advance], the
	// snapshot's balances of the providers it was not re-derived for:
	// their entries are only those after base.at.
	base *base
}

type pair struct{ provider, currency string }

// Order returns the state of an accepted sale.
func (l *Ledger) Order(orderID string) (OrderState, bool) {
	o, ok := l.orders[orderID]
	if !ok {
		return OrderState{}, false
	}
	s := *o
	s.Refunds = slices.Clone(o.Refunds)
	return s, true
}

// Rejection returns the rejection of the sale or refund whose EventID is
// id, or nil if it was accepted (or is unknown).
func (l *Ledger) Rejection(eventID string) *EventError {
	for _, r := range l.Rejected {
		if r.EventID == eventID {
			return r
		}
	}
	return nil
}

// ranks of the effects at one instant.
const (
	rankSale = iota
	rankRelease
	rankRefund
	rankPayout
	rankPayoutFailed
)

type action struct {
	at     time.Time
	rank   int
	key    string
	order  *OrderState // sale, release
	refund *Refund
	payout *Payout
}

// Derive validates the input and derives the ledger. Sales and refunds that
// break a rule are left out and listed in Ledger.Rejected with a typed
// reason; inconsistent terms, payouts or KYC changes stop it with an error
// wrapping [ErrInvalidTerms], [ErrInvalidPayout] or [ErrInvalidKYC].
//
// Events are applied in time order (README, "Order of effects"), so the
// input order never matters.
func Derive(m pricebook.Marketplace, in Input) (*Ledger, error) {
	return build(m, in, nil)
}

// build derives the ledger of in, continuing from seed when it is not nil
// (see [Advance]): the seed's orders, balances and KYC state stand for
// every effect at or before seed.at of its providers, and only effects
// after that instant become entries for them.
func build(m pricebook.Marketplace, in Input, sd *seed) (*Ledger, error) {
	if err := checkTerms(m); err != nil {
		return nil, err
	}
	l := &Ledger{
		Entries: make([]Entry, 0, 5*len(in.Sales)+4*len(in.Refunds)+2*len(in.Payouts)),
		terms:   m,
		orders:  make(map[string]*OrderState, len(in.Sales)),
		byPair:  make(map[pair][]int),
		payouts: make(map[pair][]Payout),
		kyc:     make(map[string][]KYCChange),
	}
	kyc := in.KYC
	if sd != nil {
		l.base = &sd.base
		kyc = append(slices.Clip(kyc), sd.kyc...)
	}
	if err := l.loadKYC(kyc); err != nil {
		return nil, err
	}
	payouts, err := l.loadPayouts(in.Payouts)
	if err != nil {
		return nil, err
	}

	acts := make([]action, 0, 2*len(in.Sales)+len(in.Refunds)+len(payouts))
	available := make(map[pair]decimal.Decimal)
	if sd != nil {
		for _, o := range sd.orders {
			l.orders[o.Sale.OrderID] = o
			if o.ReleaseAt.After(sd.base.at) {
				acts = append(acts, action{at: o.ReleaseAt, rank: rankRelease, key: o.Sale.OrderID, order: o})
			}
		}
		for k, p := range sd.base.pairs {
			available[k] = p.Available
		}
	}
	for _, o := range l.acceptSales(in.Sales) {
		acts = append(acts,
			action{at: o.Sale.At, rank: rankSale, key: o.Sale.OrderID, order: o},
			action{at: o.ReleaseAt, rank: rankRelease, key: o.Sale.OrderID, order: o})
	}
	for i := range in.Refunds {
		r := in.Refunds[i]
		r.At = r.At.UTC()
		acts = append(acts, action{at: r.At, rank: rankRefund, key: refundKey(&r), refund: &r})
	}
	for i := range payouts {
		p := &payouts[i]
		// A seeded provider's balances already count its effects up to the
		// seed's instant.
		after := time.Time{}
		if sd != nil && !sd.base.group[p.Provider] {
			after = sd.base.at
		}
		if p.At.After(after) {
			acts = append(acts, action{at: p.At, rank: rankPayout, key: p.ID, payout: p})
		}
		if p.Status == PayoutFailed && p.FailedAt.After(after) {
			acts = append(acts, action{at: p.FailedAt, rank: rankPayoutFailed, key: p.ID, payout: p})
		}
	}
	// Actions with equal time, rank and key are equal in every field, so an
	// unstable sort is deterministic.
	slices.SortFunc(acts, func(a, b action) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.rank, b.rank), strings.Compare(a.key, b.key))
	})

	for i := range acts {
		a := &acts[i]
		switch a.rank {
		case rankSale:
			l.applySale(a.order)
		case rankRelease:
			l.applyRelease(a.order, available)
		case rankRefund:
			l.applyRefund(a.refund, available)
		case rankPayout:
			p := a.payout
			k := pair{p.Provider, p.Currency.Code}
			available[k] = available[k].Sub(p.Amount)
			l.add(Entry{Kind: EntryPayout, Provider: p.Provider, Currency: p.Currency, Amount: p.Amount.Neg(),
				Bucket: BucketAvailable, At: p.At, PayoutID: p.ID}, "")
		case rankPayoutFailed:
			p := a.payout
			k := pair{p.Provider, p.Currency.Code}
			available[k] = available[k].Add(p.Amount)
			l.add(Entry{Kind: EntryPayoutFailed, Provider: p.Provider, Currency: p.Currency, Amount: p.Amount,
				Bucket: BucketAvailable, At: p.FailedAt, PayoutID: p.ID}, "")
		}
	}
	return l, nil
}

func checkTerms(m pricebook.Marketplace) error {
	if err := checkRate(m.PlatformFee); err != nil {
		return fmt.Errorf("checking marketplace terms: %w", err)
	}
	if m.RefundWindow <= 0 {
		return fmt.Errorf("checking marketplace terms: refund window %s must be positive: %w", m.RefundWindow, ErrInvalidTerms)
	}
	// A sale may be in any currency: each needs a minimum, or its
	// providers would never be paid in it.
	for _, c := range money.Currencies() {
		min, err := m.MinimumPayout.In(c)
		if err != nil {
			return fmt.Errorf("checking marketplace terms: %w: %w", err, ErrInvalidTerms)
		}
		if min.Sign() <= 0 {
			return fmt.Errorf("checking marketplace terms: minimum payout %s %s must be positive: %w", money.FormatDecimal(min), c.Code, ErrInvalidTerms)
		}
	}
	return nil
}

// acceptSales validates the sales, earliest first, and returns the accepted
// ones; the first valid sale of an order id claims it.
func (l *Ledger) acceptSales(in []Sale) []*OrderState {
	type keyed struct {
		at  time.Time
		key string
		i   int
	}
	order := make([]keyed, len(in))
	for i := range in {
		order[i] = keyed{in[i].At, saleKey(&in[i]), i}
	}
	// Sales with equal time and key are equal in every field, so an
	// unstable sort is deterministic.
	slices.SortFunc(order, func(a, b keyed) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.key, b.key))
	})
	out := make([]*OrderState, 0, len(in))
	for _, k := range order {
		s := in[k.i]
		s.At = s.At.UTC()
		reject := func(err error) {
			l.Rejected = append(l.Rejected, &EventError{Kind: EventSale, EventID: s.EventID, Provider: s.Provider, OrderID: s.OrderID, At: s.At, Err: err})
		}
		switch {
		case s.Provider == "" || s.OrderID == "" || s.At.IsZero():
			reject(fmt.Errorf("provider, order id and time are required: %w", ErrInvalidSale))
			continue
		case !knownCurrency(s.Currency):
			reject(fmt.Errorf("currency %q is not an ISO 4217 currency with minor units: %w", s.Currency.Code, ErrInvalidSale))
			continue
		}
		if err := checkSaleAmounts(s.Currency, s.Gross, s.Tax); err != nil {
			reject(err)
			continue
		}
		if prev, dup := l.orders[s.OrderID]; dup {
			reject(fmt.Errorf("order sold already at %s (provider %q): %w", prev.Sale.At.Format(time.RFC3339Nano), prev.Sale.Provider, ErrDuplicateOrder))
			continue
		}
		s.Gross, s.Tax = s.Currency.Round(s.Gross), s.Currency.Round(s.Tax)
		sp := split(l.terms.PlatformFee, s.Currency, s.Gross, s.Tax, decimal.Zero)
		o := &OrderState{Sale: s, Original: sp, Current: sp, Refunded: s.Currency.Round(decimal.Zero), ReleaseAt: s.At.Add(l.terms.RefundWindow)}
		l.orders[s.OrderID] = o
		out = append(out, o)
	}
	return out
}

func (l *Ledger) applySale(o *OrderState) {
	s := &o.Sale
	add := func(k EntryKind, amount decimal.Decimal, b Bucket) {
		l.add(Entry{Kind: k, Provider: s.Provider, Currency: s.Currency, Amount: amount, Bucket: b, At: s.At, OrderID: s.OrderID}, s.EventID)
	}
	// Every sale has its four entries, zeros included (a free course).
	add(EntrySale, s.Gross, BucketNone)
	add(EntryTax, s.Tax, BucketNone)
	add(EntryFee, o.Original.Fee, BucketNone)
	add(EntryShare, o.Original.Share, BucketHeld)
}

func (l *Ledger) applyRelease(o *OrderState, available map[pair]decimal.Decimal) {
	s := &o.Sale
	if o.Current.Share.IsZero() {
		return
	}
	k := pair{s.Provider, s.Currency.Code}
	available[k] = available[k].Add(o.Current.Share)
	l.add(Entry{Kind: EntryHoldRelease, Provider: s.Provider, Currency: s.Currency, Amount: o.Current.Share,
		Bucket: BucketAvailable, At: o.ReleaseAt, OrderID: s.OrderID}, s.EventID)
}

func (l *Ledger) applyRefund(r *Refund, available map[pair]decimal.Decimal) {
	reject := func(err error) {
		l.Rejected = append(l.Rejected, &EventError{Kind: EventRefund, EventID: r.EventID, Provider: r.Provider, OrderID: r.OrderID, RefundID: r.RefundID, At: r.At, Err: err})
	}
	switch {
	case r.Provider == "" || r.OrderID == "" || r.RefundID == "" || r.At.IsZero():
		reject(fmt.Errorf("provider, order id, refund id and time are required: %w", ErrInvalidRefund))
		return
	case !knownCurrency(r.Currency):
		reject(fmt.Errorf("currency %q is not an ISO 4217 currency with minor units: %w", r.Currency.Code, ErrInvalidRefund))
		return
	case r.Amount.Sign() <= 0 || !wholeMinor(r.Currency, r.Amount):
		reject(fmt.Errorf("amount %s %s must be > 0 with at most %d fraction digits: %w", money.FormatDecimal(r.Amount), r.Currency.Code, r.Currency.MinorUnits, ErrInvalidRefund))
		return
	}
	o, ok := l.orders[r.OrderID]
	switch {
	case !ok:
		reject(fmt.Errorf("no sale of order %q: %w", r.OrderID, ErrUnknownOrder))
		return
	case r.At.Before(o.Sale.At):
		reject(fmt.Errorf("refund at %s, sale at %s: %w", r.At.Format(time.RFC3339Nano), o.Sale.At.Format(time.RFC3339Nano), ErrRefundBeforeSale))
		return
	case r.Provider != o.Sale.Provider:
		reject(fmt.Errorf("order %q was sold by provider %q: %w", r.OrderID, o.Sale.Provider, ErrProviderMismatch))
		return
	case r.Currency != o.Sale.Currency:
		reject(fmt.Errorf("refund in %s, sale in %s: %w", r.Currency.Code, o.Sale.Currency.Code, ErrCurrencyMismatch))
		return
	}
	for _, prev := range o.Refunds {
		if prev.RefundID == r.RefundID {
			reject(fmt.Errorf("refund %q of order %q accepted already at %s: %w", r.RefundID, r.OrderID, prev.At.Format(time.RFC3339Nano), ErrDuplicateRefund))
			return
		}
	}
	c := o.Sale.Currency
	amount := c.Round(r.Amount)
	refunded := o.Refunded.Add(amount)
	if refunded.GreaterThan(o.Sale.Gross) {
		reject(fmt.Errorf("refund of %s %s, but only %s %s of the sale's gross %s remain: %w",
			money.FormatDecimal(amount), c.Code, money.FormatDecimal(o.Sale.Gross.Sub(o.Refunded)), c.Code,
			money.FormatDecimal(o.Sale.Gross), ErrRefundExceedsSale))
		return
	}

	old := o.Current
	now := split(l.terms.PlatformFee, c, o.Sale.Gross, o.Sale.Tax, refunded)
	o.Current, o.Refunded = now, refunded
	accepted := *r
	accepted.Amount = amount
	o.Refunds = append(o.Refunds, accepted)

	add := func(k EntryKind, v decimal.Decimal, b Bucket, always bool) {
		if v.IsZero() && !always {
			return
		}
		l.add(Entry{Kind: k, Provider: r.Provider, Currency: c, Amount: v, Bucket: b, At: r.At, OrderID: r.OrderID, RefundID: r.RefundID}, r.EventID)
	}
	netBack := old.Net.Sub(now.Net) // net given back, ≥ 0
	add(EntryRefund, amount.Neg(), BucketNone, true)
	add(EntryTaxRefund, netBack.Sub(amount), BucketNone, false)
	add(EntryFeeReversal, now.Fee.Sub(old.Fee), BucketNone, false)
	share := now.Share.Sub(old.Share)
	if r.At.Before(o.ReleaseAt) {
		add(EntryShareReversal, share, BucketHeld, false)
		return
	}
	k := pair{r.Provider, c.Code}
	covered, claw := clawback(available[k], share)
	available[k] = available[k].Add(share)
	add(EntryShareReversal, covered, BucketAvailable, false)
	add(EntryClawback, claw, BucketAvailable, false)
}

// clawback splits a change r of the available balance avail into the part
// the balance covers and the part that takes it below zero (or further
// below).
func clawback(avail, r decimal.Decimal) (covered, claw decimal.Decimal) {
	zero := r.Sub(r) // keeps r's scale
	switch {
	case r.Sign() >= 0:
		return r, zero
	case avail.Sign() <= 0:
		return zero, r
	}
	covered = decimal.Max(r, avail.Neg())
	return covered, r.Sub(covered)
}

// add appends e with its deterministic id: a hash of everything that
// identifies it but the amount (kind, bucket, provider, currency, time,
// order, refund and payout ids, and the id of the event it comes from).
// Two derivations that give an entry the same id therefore agree on all
// of it but, after late events, the amount: what [Reconcile] corrects.
func (l *Ledger) add(e Entry, eventID string) {
	e.ID = entryID(&e, eventID)
	i := len(l.Entries)
	l.Entries = append(l.Entries, e)
	k := pair{e.Provider, e.Currency.Code}
	l.byPair[k] = append(l.byPair[k], i)
}

func entryID(e *Entry, eventID string) string {
	h := sha256.New()
	for _, part := range []string{string(e.Kind), string(e.Bucket), e.Provider, e.Currency.Code,
		e.At.UTC().Format(time.RFC3339Nano), e.OrderID, e.RefundID, e.PayoutID, eventID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return "le_" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

func saleKey(s *Sale) string {
	return strings.Join([]string{s.OrderID, s.EventID, s.Provider, s.Currency.Code,
		money.FormatDecimal(s.Gross), money.FormatDecimal(s.Tax), s.BuyerID, s.CourseID}, "\x00")
}

func refundKey(r *Refund) string {
	return strings.Join([]string{r.OrderID, r.RefundID, r.EventID, r.Provider, r.Currency.Code,
		money.FormatDecimal(r.Amount)}, "\x00")
}
