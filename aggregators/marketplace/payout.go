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

// Payout is one payout: decided by a run, then recorded by the
// orchestrator and fed back as input to every later derivation.
type Payout struct {
	ID            string // [PayoutID](Provider, Currency, At); the Stripe idempotency key derives from it
	Provider      string
	Currency      money.Currency
	At            time.Time       // the run time T; it pays the available balance as of T
	Amount        decimal.Decimal // > 0
	StripeAccount string          // the connected account of the provider's latest verification at T
	Status        PayoutStatus
	// FailedAt is when a failed transfer gave the amount back to the
	// available balance; zero means At. Only for PayoutFailed.
	FailedAt      time.Time
	FailureReason string // as recorded from Stripe; not used by the engine
	// Lines is the statement: what the payout settles, summing exactly to
	// Amount. Filled by the run; not needed on input.
	Lines []StatementLine
}

// LineKind is what a statement line settles.
type LineKind string

// The statement line kinds.
const (
	// LineCarryOver is the available balance left right after the previous
	// payout of the provider and currency (for example a clawback from a
	// late refund dated before that payout). Zero lines are left out.
	LineCarryOver LineKind = "carry_over"
	// LineSale is a sale's original provider share, settled when its hold
	// was released inside the statement window.
	LineSale LineKind = "sale"
	// LineRefund is a share reversal: made during the hold of a sale
	// released in the window, or made in the window after release.
	LineRefund LineKind = "refund"
	// LineClawback is the part of a share reversal in the window that took
	// the available balance below zero.
	LineClawback LineKind = "clawback"
	// LineReturnedPayout is a failed payout given back in the window.
	LineReturnedPayout LineKind = "returned_payout"
)

// StatementLine is one line of a payout statement.
type StatementLine struct {
	Kind     LineKind
	At       time.Time // when the settled effect happened (sale, refund, failure time)
	OrderID  string
	CourseID string
	RefundID string
	PayoutID string // returned payouts
	EntryID  string // the ledger entry; "" for a carry-over
	Amount   decimal.Decimal
}

// CarryReason is why a run paid nothing to a provider in a currency.
type CarryReason string

// The carry-over reasons, in the order they are checked.
const (
	CarryAlreadyRun   CarryReason = "already_run"   // a payout at this very run time exists (re-run)
	CarryLaterPayout  CarryReason = "later_payout"  // a payout after the run time exists: runs do not go back in time
	CarryClawback     CarryReason = "clawback"      // available balance negative, carried to offset later earnings
	CarryBelowMinimum CarryReason = "below_minimum" // 0 ≤ available < minimum
	CarryNotVerified  CarryReason = "not_verified"  // no KYC verification in force at the run time
)

// Carry is a provider and currency a run did not pay, with why.
type Carry struct {
	Provider  string
	Currency  money.Currency
	Held      decimal.Decimal
	Available decimal.Decimal
	Reason    CarryReason
}

// Run is the outcome of a payout run.
type Run struct {
	At      time.Time
	Payouts []Payout // new payouts, status pending, by provider then currency
	Carried []Carry  // every other provider and currency with a balance, same order
}

// PayoutID is the deterministic id of the payout of provider in currency c
// by the run at at: "po_" and 32 hex digits of a SHA-256 of the three.
func PayoutID(provider string, c money.Currency, at time.Time) string {
	h := sha256.New()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(c.Code))
	h.Write([]byte{0})
	h.Write([]byte(at.UTC().Format(time.RFC3339Nano)))
	var sum [sha256.Size]byte
	return "po_" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// RunPayouts derives the ledger of in and runs payouts at at. See
// [Ledger.RunPayouts].
func RunPayouts(m pricebook.Marketplace, in Input, at time.Time) (Run, error) {
	l, err := Derive(m, in)
	if err != nil {
		return Run{}, err
	}
	return l.RunPayouts(at)
}

// RunPayouts decides the payouts of a run at at, for every provider and
// currency with a ledger entry by then. It pays the whole available
// balance as of at when
//   - no payout of that provider and currency exists at or after at (so a
//     re-run of the same at, or of an earlier one, pays nothing more),
//   - the available balance is ≥ the minimum payout of the currency
//     (held money is never in the available balance; every currency has a
//     minimum, see [Derive]),
//   - the provider's latest KYC change at or before at is a verification
//     (a revocation at the same instant as a verification wins).
//
// Everything else is carried over with its reason. The run is a pure
// function of the ledger (events and previous payouts) and at. The
// orchestrator records the returned payouts (status pending) before
// transferring, and passes them in every later [Input].
func (l *Ledger) RunPayouts(at time.Time) (Run, error) {
	at = at.UTC()
	run := Run{At: at}
	for _, k := range l.pairs() {
		b, ok := l.balance(k, at)
		if !ok {
			continue
		}
		carry := func(r CarryReason) {
			run.Carried = append(run.Carried, Carry{Provider: b.Provider, Currency: b.Currency, Held: b.Held, Available: b.Available, Reason: r})
		}
		var prev *Payout
		blocked := CarryReason("")
		for i := range l.payouts[k] {
			p := &l.payouts[k][i]
			switch p.At.Compare(at) {
			case -1:
				prev = p
			case 0:
				blocked = CarryAlreadyRun
			case 1:
				if blocked == "" {
					blocked = CarryLaterPayout
				}
			}
		}
		if blocked != "" {
			carry(blocked)
			continue
		}
		min, err := l.terms.MinimumPayout.In(b.Currency)
		if err != nil { // checkTerms saw a minimum for every currency
			return Run{}, fmt.Errorf("running payouts at %s for provider %q: %w: %w", at.Format(time.RFC3339), k.provider, err, ErrInternal)
		}
		switch {
		case b.Available.Sign() < 0:
			carry(CarryClawback)
			continue
		case b.Available.LessThan(min):
			carry(CarryBelowMinimum)
			continue
		}
		account, verified := l.verified(k.provider, at)
		if !verified {
			carry(CarryNotVerified)
			continue
		}
		p := Payout{
			ID: PayoutID(k.provider, b.Currency, at), Provider: k.provider, Currency: b.Currency, At: at,
			Amount: b.Available, StripeAccount: account, Status: PayoutPending,
		}
		lines, err := l.statement(k, prev, at, p.Amount)
		if err != nil {
			return Run{}, fmt.Errorf("running payouts at %s for provider %q in %s: %w", at.Format(time.RFC3339), k.provider, k.currency, err)
		}
		p.Lines = lines
		run.Payouts = append(run.Payouts, p)
	}
	return run, nil
}

// statement lists what a payout of amount at at settles: the available
// balance left right after the previous payout (any status) as a
// carry-over, then every available-balance effect after it up to at, a
// released sale expanded into its share and the refunds made during its
// hold.
func (l *Ledger) statement(k pair, prev *Payout, at time.Time, amount decimal.Decimal) ([]StatementLine, error) {
	zero := amount.Sub(amount) // the amount's scale
	opening, lines, err := l.window(k, prev, at, zero)
	if err != nil {
		return nil, err
	}
	sum := opening
	for _, line := range lines {
		sum = sum.Add(line.Amount)
	}
	if !opening.IsZero() {
		from := StatementLine{Kind: LineCarryOver, At: prev.At, PayoutID: prev.ID, Amount: opening}
		lines = append([]StatementLine{from}, lines...)
	}
	if !sum.Equal(amount) {
		return nil, fmt.Errorf("statement sums to %s, payout is %s: %w", money.FormatDecimal(sum), money.FormatDecimal(amount), ErrInternal)
	}
	return lines, nil
}

// window returns the available balance right after prev (zero without
// one) and the statement lines of every available-balance effect in
// (prev, at]. On a ledger continued from a snapshot, a window that opened
// at or before the snapshot starts from the snapshot's own window.
func (l *Ledger) window(k pair, prev *Payout, at time.Time, zero decimal.Decimal) (decimal.Decimal, []StatementLine, error) {
	opening := zero
	var lines []StatementLine
	if bp, ok := l.basePair(k); ok {
		switch {
		case prev == nil && bp.LastPayoutID == "", prev != nil && !prev.At.After(l.base.at) && prev.ID == bp.LastPayoutID:
			opening, lines = opening.Add(bp.Opening), slices.Clone(bp.Lines)
			prev = nil // every entry of the pair is after the snapshot, so in the window
		case prev != nil && prev.At.After(l.base.at):
			opening = opening.Add(bp.Available)
		default:
			return zero, nil, fmt.Errorf("payout window of provider %q in %s: previous payout %v is not the snapshot's %q: %w",
				k.provider, k.currency, prev, bp.LastPayoutID, ErrInternal)
		}
	}
	for _, i := range l.byPair[k] {
		e := &l.Entries[i]
		if e.At.After(at) {
			break
		}
		if prev != nil && !e.At.After(prev.At) {
			opening = opening.Add(e.AvailableDelta())
			continue
		}
		line := StatementLine{At: e.At, OrderID: e.OrderID, RefundID: e.RefundID, PayoutID: e.PayoutID, EntryID: e.ID, Amount: e.Amount}
		switch e.Kind {
		case EntryHoldRelease:
			if err := l.releaseLines(e, &lines); err != nil {
				return zero, nil, err
			}
			continue
		case EntryShareReversal:
			line.Kind = LineRefund
			line.CourseID = l.orders[e.OrderID].Sale.CourseID
		case EntryClawback:
			line.Kind = LineClawback
			line.CourseID = l.orders[e.OrderID].Sale.CourseID
		case EntryPayoutFailed:
			line.Kind = LineReturnedPayout
		default:
			// A payout in the window would be a later prev: not reachable.
			if e.AvailableDelta().IsZero() {
				continue
			}
			return zero, nil, fmt.Errorf("entry %s (%s) inside a statement window: %w", e.ID, e.Kind, ErrInternal)
		}
		if e.AvailableDelta().IsZero() {
			continue
		}
		lines = append(lines, line)
	}
	return opening, lines, nil
}

// releaseLines appends to lines what the hold release e settles: the
// sale's original share and every refund made during the hold, worked
// out again from the order (its entries may belong to a snapshot), and
// checks that they sum to the release.
func (l *Ledger) releaseLines(e *Entry, lines *[]StatementLine) error {
	o := l.orders[e.OrderID]
	s := &o.Sale
	c := s.Currency
	share := Entry{Kind: EntryShare, Bucket: BucketHeld, Provider: s.Provider, Currency: c, At: s.At, OrderID: s.OrderID}
	*lines = append(*lines, StatementLine{Kind: LineSale, At: s.At, OrderID: s.OrderID, CourseID: s.CourseID,
		EntryID: entryID(&share, s.EventID), Amount: o.Original.Share})
	released := o.Original.Share
	refunded, before := c.Round(decimal.Zero), o.Original
	for _, r := range o.Refunds {
		if !r.At.Before(o.ReleaseAt) {
			break // refunds are in effect order: the rest were made after release
		}
		refunded = refunded.Add(r.Amount)
		now := split(l.terms.PlatformFee, c, s.Gross, s.Tax, refunded)
		delta := now.Share.Sub(before.Share)
		before = now
		if delta.IsZero() {
			continue
		}
		rev := Entry{Kind: EntryShareReversal, Bucket: BucketHeld, Provider: s.Provider, Currency: c, At: r.At, OrderID: s.OrderID, RefundID: r.RefundID}
		*lines = append(*lines, StatementLine{Kind: LineRefund, At: r.At, OrderID: s.OrderID, CourseID: s.CourseID, RefundID: r.RefundID,
			EntryID: entryID(&rev, r.EventID), Amount: delta})
		released = released.Add(delta)
	}
	if !released.Equal(e.Amount) {
		return fmt.Errorf("order %q: release of %s, share and held refunds sum to %s: %w",
			e.OrderID, money.FormatDecimal(e.Amount), money.FormatDecimal(released), ErrInternal)
	}
	return nil
}

// verified returns the Stripe account of the provider's KYC verification in
// force at at.
func (l *Ledger) verified(provider string, at time.Time) (string, bool) {
	changes := l.kyc[provider]
	n := inForce(changes, at)
	if n == 0 {
		return "", false
	}
	last := changes[n-1]
	return last.StripeAccount, last.Verified
}

// inForce returns how many of the sorted changes are dated at or before at:
// the last of them is the one in force.
func inForce(changes []KYCChange, at time.Time) int {
	n, _ := slices.BinarySearchFunc(changes, at, func(c KYCChange, t time.Time) int {
		if c.At.After(t) {
			return 1
		}
		return -1
	})
	return n
}

func (l *Ledger) loadKYC(in []KYCChange) error {
	for _, c := range in {
		switch {
		case c.Provider == "" || c.At.IsZero():
			return fmt.Errorf("loading KYC change %q: provider and time are required: %w", c.EventID, ErrInvalidKYC)
		case c.Verified && c.StripeAccount == "":
			return fmt.Errorf("loading KYC verification %q of provider %q: Stripe account is required: %w", c.EventID, c.Provider, ErrInvalidKYC)
		}
		c.At = c.At.UTC()
		if !c.Verified {
			c.StripeAccount = ""
		}
		l.kyc[c.Provider] = append(l.kyc[c.Provider], c)
	}
	for _, cs := range l.kyc {
		// At one instant: verifications (by account) before revocations,
		// so a revocation wins.
		slices.SortFunc(cs, func(a, b KYCChange) int {
			return cmp.Or(a.At.Compare(b.At), -cmpBool(a.Verified, b.Verified), strings.Compare(a.StripeAccount, b.StripeAccount))
		})
	}
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// loadPayouts validates the previous payouts and returns them by At then id,
// amounts at the currency's scale and FailedAt set on failed ones.
func (l *Ledger) loadPayouts(in []Payout) ([]Payout, error) {
	out := make([]Payout, 0, len(in))
	ids := make(map[string]bool, len(in))
	for _, p := range in {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("loading payout %q: %s: %w", p.ID, fmt.Sprintf(format, args...), ErrInvalidPayout)
		}
		switch {
		case p.ID == "" || p.Provider == "" || p.At.IsZero():
			return nil, bad("id, provider and time are required")
		case ids[p.ID]:
			return nil, bad("duplicate id")
		case !knownCurrency(p.Currency):
			return nil, bad("unknown currency %q", p.Currency.Code)
		case p.Amount.Sign() <= 0 || !wholeMinor(p.Currency, p.Amount):
			return nil, bad("amount %s must be > 0 with at most %d fraction digits", money.FormatDecimal(p.Amount), p.Currency.MinorUnits)
		case p.Status != PayoutPending && p.Status != PayoutPaid && p.Status != PayoutFailed:
			return nil, bad("unknown status %q", p.Status)
		case p.Status != PayoutFailed && !p.FailedAt.IsZero():
			return nil, bad("failure time on a %s payout", p.Status)
		case p.Status == PayoutFailed && !p.FailedAt.IsZero() && p.FailedAt.Before(p.At):
			return nil, bad("failed at %s, before its time %s", p.FailedAt.Format(time.RFC3339Nano), p.At.Format(time.RFC3339Nano))
		}
		ids[p.ID] = true
		p.At = p.At.UTC()
		p.Amount = p.Currency.Round(p.Amount)
		if p.Status == PayoutFailed {
			if p.FailedAt.IsZero() {
				p.FailedAt = p.At
			}
			p.FailedAt = p.FailedAt.UTC()
		}
		p.Lines = nil
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Payout) int { return cmp.Or(a.At.Compare(b.At), strings.Compare(a.ID, b.ID)) })
	for _, p := range out {
		k := pair{p.Provider, p.Currency.Code}
		l.payouts[k] = append(l.payouts[k], p)
	}
	return out, nil
}
