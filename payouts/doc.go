// Package payouts runs the marketplace side of Tally: it derives the
// provider ledger from sales, refunds and KYC events with the engine in
// aggregators/marketplace, answers balances, and runs payouts — each a
// Stripe Connect transfer with an idempotency key from the payout id —
// safe to re-run for the same as-of time.
package payouts
