// Package aggregators turns stored events into meters: usage per tenant and
// period (AI credits, peak seats, marketplace sales) today, invoices and
// provider balances as the rating rules of SPEC §3 land.
//
// Aggregators are pure: they take events or pre-aggregated rows and return
// figures, with no I/O and no clock of their own, so billing runs are
// reproducible. The stores (chstore) push the heavy aggregation into
// ClickHouse and call these functions for what is stateful.
package aggregators
