// Package payouts runs the marketplace side of Tally: it derives the
// provider ledger from sales, refunds and KYC events with the engine in
// aggregators/marketplace, answers balances, and runs payouts — each a
// Stripe Connect transfer with an idempotency key from the payout id —
// safe to re-run for the same as-of time.
//
// The package owns its ports (ports.go): an [EventSource], a [Store], a
// [TransferSender] taking a [Transfer] and answering refusals with
// [ErrTransferRefused], and an [EventRejecter]. chstore and stripesync
// implement them and the daemon wires them; this package imports neither.
// A run is a file per step: run.go lists them, derive.go, reject.go,
// decide.go and send.go make them. A single provider's balance derives
// from that provider's events only ([EventSource.ProviderEvents]), with
// the same answer as the whole-marketplace derivation of a run.
package payouts
