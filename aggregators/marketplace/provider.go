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
	in := Input{Sales: delta.Sales}
	for _, r := range delta.Refunds {
		if r.Provider == provider {
			in.Refunds = append(in.Refunds, r)
		}
	}
	for _, k := range delta.KYC {
		if k.Provider == provider {
			in.KYC = append(in.KYC, k)
		}
	}
	for _, p := range delta.Payouts {
		if p.Provider == provider {
			in.Payouts = append(in.Payouts, p)
		}
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
	out := &Snapshot{At: s.At, Position: s.Position}
	for _, p := range s.Pairs {
		if p.Provider == provider {
			out.Pairs = append(out.Pairs, p)
		}
	}
	for _, o := range s.Orders {
		if o.Sale.Provider == provider {
			out.Orders = append(out.Orders, o)
		}
	}
	for _, k := range s.KYC {
		if k.Provider == provider {
			out.KYC = append(out.KYC, k)
		}
	}
	for _, p := range s.Payouts {
		if p.Provider == provider {
			out.Payouts = append(out.Payouts, p)
		}
	}
	return out
}
