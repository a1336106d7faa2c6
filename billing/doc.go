// Package billing closes billing periods: it rates every tenant's month
// with the rating engine (aggregators/rating), stores the invoices in
// ClickHouse as finalized, and pushes them to Stripe, each step safe to
// repeat. Invoice ids are derived from (tenant, period, kind), so closing a
// period twice finds the invoices of the first close instead of making new
// ones.
//
// Billing owns its ports (ports.go): the activity source and the invoice
// store (chstore implements them), the invoice sender (stripesync
// implements it; a refusal wraps [ErrSendRefused]) and the event
// rejecter. It imports no adapter. A close is a list of steps, each in the
// file named for it:
//
//   - close.go: [Service.ClosePeriod], the steps in order;
//   - load.go: every tenant's rating input, and what earlier closes did;
//   - reject.go, admit.go: the stored events rating leaves out,
//     dead-lettered with the reason;
//   - rate.go: each tenant's invoices of the period, with adjust.go (the
//     closed months late events changed) and prepaid.go (contract years);
//     failures.go says what happens to a tenant that cannot be rated;
//   - store.go: the invoices not stored yet, then the period recorded;
//   - send.go: the finalized invoices sent and their outcomes recorded;
//   - unbilled.go: the usage no invoice covers.
//
// Periods are [Period] values inside the package; "YYYY-MM" strings are
// only the stored and JSON form.
package billing
