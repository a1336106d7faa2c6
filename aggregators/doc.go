// Package aggregators folds stored events into figures. This package holds
// the meters (usage per tenant and period: AI credits, peak seats,
// marketplace sales); its two engines live below it: aggregators/rating
// folds a tenant's subscription, seat and credit events into invoice lines
// (SPEC §3 rating) and aggregators/marketplace folds sales, refunds and KYC
// events into the provider ledger, balances and payouts (SPEC §3
// marketplace). The price book they read is configuration, not an
// aggregator: it is the top-level package pricebook.
//
// Aggregators are pure: they take events or pre-aggregated rows and return
// figures, with no I/O and no clock of their own, so billing runs are
// reproducible. The stores (chstore) push the heavy aggregation into
// ClickHouse and call these functions for what is stateful.
package aggregators
