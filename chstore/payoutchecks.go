package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/payouts"
)

// PayoutsToCheck returns the latest state of the payouts a run continued
// from snap needs (marketplace.Advance): every failed one, every one
// dated after snap.At, and every one dated at or after the latest payout
// of its provider and currency in snap (every one of a pair snap lacks);
// every payout for a nil snap (a first run).
// The snapshot's pairs go along as an external table; the join reads
// every payout's key columns in ClickHouse but sends back about one row
// per pair, not every payout ever made.
func (s *Ledger) PayoutsToCheck(ctx context.Context, snap *marketplace.Snapshot) ([]payouts.Payout, error) {
	if snap == nil {
		return s.payoutRows(ctx, "")
	}
	tbl, err := ext.NewTable("snapshot_pairs",
		ext.Column("provider", column.Type("String")), ext.Column("currency", column.Type("String")), ext.Column("last_at", column.Type("Int64")))
	if err != nil {
		return nil, fmt.Errorf("building the snapshot_pairs table: %w", err)
	}
	for _, p := range snap.Pairs {
		last := int64(0) // no payout: every payout of the pair is asked for
		if p.LastPayoutID != "" {
			last = p.LastPayoutAt.UnixNano()
		}
		if err := tbl.Append(p.Provider, p.Currency.Code, last); err != nil {
			return nil, fmt.Errorf("building the snapshot_pairs table: %w", err)
		}
	}
	// The join runs where the query is sent, over the payouts read through
	// the subquery (the Distributed table on a cluster): the external
	// table is not sent to the shards.
	return s.queryPayouts(clickhouse.Context(ctx, clickhouse.WithExternalTable(tbl)), `
SELECT p.payout_id, p.provider, p.currency, p.amount, p.as_of, p.account, p.status, p.status_reason, p.stripe_transfer_id, p.failed_at
FROM (
    SELECT payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at
    FROM payouts FINAL
) AS p
LEFT JOIN snapshot_pairs AS s ON p.provider = s.provider AND p.currency = s.currency
WHERE p.status = 'failed' OR toUnixTimestamp64Nano(p.as_of) > ? OR toUnixTimestamp64Nano(p.as_of) >= s.last_at`, snap.At.UnixNano())
}

// PayoutsOf returns the latest state of every payout of providers,
// without statements: the payouts of the providers a continued run
// derives again from their history.
func (s *Ledger) PayoutsOf(ctx context.Context, providers []string) ([]payouts.Payout, error) {
	pctx, err := withKeys(ctx, "payout_providers", "String", providers)
	if err != nil {
		return nil, err
	}
	return s.providerPayouts(pctx, `provider IN (SELECT key FROM payout_providers)`)
}

// ProviderPayouts returns the latest state of every payout of provider,
// without statements, oldest first: read by key from provider_payouts.
func (s *Ledger) ProviderPayouts(ctx context.Context, provider string) ([]payouts.Payout, error) {
	return s.providerPayouts(ctx, `provider = ?`, provider)
}

// providerPayouts reads the rows of provider_payouts matching where and
// keeps the highest version of each payout (see migration 0010: FINAL
// would not fold versions stored on two shards).
func (s *Ledger) providerPayouts(ctx context.Context, where string, args ...any) ([]payouts.Payout, error) {
	rows, err := s.conn.Query(ctx, `
SELECT payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at, version
FROM provider_payouts
WHERE `+where+`
ORDER BY as_of, provider, currency, payout_id, version`, args...)
	if err != nil {
		return nil, fmt.Errorf("querying provider payouts: %w", err)
	}
	defer rows.Close()
	var out []payouts.Payout
	var version, last uint64
	for rows.Next() {
		var p payouts.Payout
		if err := rows.Scan(&p.ID, &p.Provider, &p.Currency, &p.Amount, &p.AsOf, &p.Account, &p.Status, &p.StatusReason, &p.StripeTransferID, &p.FailedAt, &version); err != nil {
			return nil, fmt.Errorf("scanning provider payout: %w", err)
		}
		p.AsOf, p.FailedAt = p.AsOf.UTC(), orZero(p.FailedAt)
		if n := len(out); n > 0 && out[n-1].ID == p.ID { // versions in order: the later wins
			if version >= last {
				out[n-1], last = p, version
			}
			continue
		}
		out, last = append(out, p), version
	}
	return out, rows.Err()
}

// orZero reads the failed_at column's "no time" (1970) as the zero time.
func orZero(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
