// Package marketplace is the money engine of the marketplace (SPEC §3
// "Marketplace, per sale" and "Payouts"), as pure functions: no I/O, no
// clock (every instant is an argument), money in decimal.Decimal only,
// rounded half to even to the currency's minor unit with [money.Currency.Round].
//
//   - [SplitSale] and [SplitAfterRefunds]: net, platform fee and provider
//     share of one sale, before and after cumulative refunds;
//   - [Derive]: the append-only ledger of every sale, refund, hold
//     release, payout and clawback, with deterministic entry ids, and the
//     refunds and sales it rejects with a typed reason ([EventError]);
//   - [Ledger.Balances]: held and available balances per provider and
//     currency as of an instant;
//   - [RunPayouts]: the payout run at an instant, a pure function of the
//     events and of the payouts already made, with a statement per payout;
//   - [Reconcile]: the rows to append to a stored ledger after late events;
//   - [Ledger.Snapshot] and [Advance]: the state a run leaves, and the
//     ledger continued from it with only the events stored after it,
//     equal to [Derive] over everything for every later instant.
//
// The README in this directory lists the rules, the sign convention of
// the ledger and every decision taken where the SPEC is silent.
package marketplace
