// Package billing closes billing periods: it rates every tenant's month
// with the rating engine (aggregators/rating), stores the invoices in
// ClickHouse as finalized, and pushes them to Stripe, each step safe to
// repeat. Invoice ids are derived from (tenant, period, kind), so closing a
// period twice finds the invoices of the first close instead of making new
// ones.
package billing
