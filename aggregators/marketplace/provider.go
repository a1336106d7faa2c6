package marketplace

import (
	"time"

	"github.com/tally-billing/tally/pricebook"
)

// ProviderBalances returns provider's balances as of asOf (at or after
// snap.At), as [Advance] over the whole marketplace, or [Derive] over the
// whole history, gives them, from what concerns provider only:
//   - snap, whole or restricted to provider ([Snapshot.Of]); nil is no
//     history, and delta is then the whole of what follows;
//   - delta: provider's sales, refunds and KYC changes stored after the
//     snapshot, its payouts as [Advance] asks for them, and every sale of
//     another provider stored after the snapshot naming the order id of
//     one of provider's sales the snapshot counted as accepted, or of
//     one of provider's sales and refunds after the snapshot: the
//     earliest sale of an order id claims it, so those decide whether
//     provider's own are accepted. (An order id of provider's that the
//     snapshot rejected is another's, or invalid, whatever comes later.)
//     Anything else in delta is ignored;
//   - src, as for [Advance]: older orders named by delta, and the whole
//     history of providers to derive again (provider, when delta holds a
//     late event or a changed payout of it, and whoever shares an order
//     id with it).
//
// Nothing else changes provider's balances: another provider's refund of
// one of its orders is rejected (provider mismatch), and effects dated
// after asOf count only after it.
func ProviderBalances(m pricebook.Marketplace, snap *Snapshot, provider string, delta Input, src Source, asOf time.Time) ([]Balance, error) {
	in := Input{
		Sales:   delta.Sales,
		Refunds: ofProvider(delta.Refunds, provider, func(r Refund) string { return r.Provider }),
		KYC:     ofProvider(delta.KYC, provider, func(k KYCChange) string { return k.Provider }),
		Payouts: ofProvider(delta.Payouts, provider, func(p Payout) string { return p.Provider }),
	}
	var l *Ledger
	var err error
	if snap == nil {
		l, err = Derive(m, in)
	} else {
		l, err = Advance(m, snap.Of(provider), in, src)
	}
	if err != nil {
		return nil, err
	}
	var out []Balance
	for _, k := range l.pairs() {
		if k.provider != provider {
			continue
		}
		if b, ok := l.balance(k, asOf); ok {
			out = append(out, b)
		}
	}
	return out, nil
}

// Of returns the part of the snapshot that is provider's: its balances
// and statement windows, its held orders, its KYC change in force and its
// failed payouts. [Advance] continues it as it continues the whole
// snapshot for provider; the others' older orders that provider's events
// name are read from their events ([Source.Orders]).
func (s *Snapshot) Of(provider string) *Snapshot {
	return &Snapshot{
		At: s.At, Position: s.Position,
		Pairs:   ofProvider(s.Pairs, provider, func(p PairState) string { return p.Provider }),
		Orders:  ofProvider(s.Orders, provider, func(o OrderState) string { return o.Sale.Provider }),
		KYC:     ofProvider(s.KYC, provider, func(k KYCChange) string { return k.Provider }),
		Payouts: ofProvider(s.Payouts, provider, func(p Payout) string { return p.Provider }),
	}
}

// ofProvider returns, in order, the elements of xs whose provider (as
// providerOf says) is provider; nil if none.
func ofProvider[T any](xs []T, provider string, providerOf func(T) string) []T {
	var out []T
	for _, x := range xs {
		if providerOf(x) == provider {
			out = append(out, x)
		}
	}
	return out
}
