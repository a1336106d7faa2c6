package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/payouts"
)

// SavePayouts stores new payouts and their statements: every statement
// line first, then every payout row (version 1), in two inserts whatever
// their number.
func (s *Ledger) SavePayouts(ctx context.Context, ps []payouts.Payout) error {
	if len(ps) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO payout_statement_lines (payout_id, line_no, kind, ref, description, at, amount)`)
	if err != nil {
		return fmt.Errorf("preparing statements: %w", err)
	}
	defer b.Abort()
	for _, p := range ps {
		for i, l := range p.Statement {
			if err := b.Append(p.ID, uint32(i+1), l.Kind, l.Ref, l.Description, l.At, l.Amount); err != nil {
				return fmt.Errorf("appending statement line of %s: %w", p.ID, err)
			}
		}
	}
	if b.Rows() > 0 {
		if err := b.Send(); err != nil {
			return fmt.Errorf("inserting statements: %w", err)
		}
	}
	versions := make(map[string]uint64, len(ps))
	for _, p := range ps {
		versions[p.ID] = 1
	}
	return s.writePayoutRows(ctx, ps, versions)
}

// UpdatePayoutStatuses records new statuses (and Stripe transfer ids), each
// as the next version of its payout's row.
func (s *Ledger) UpdatePayoutStatuses(ctx context.Context, ps []payouts.Payout) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	versions, err := s.latestVersions(ctx, "payouts", "payout_id", ids)
	if err != nil {
		return err
	}
	return s.writePayoutRows(ctx, ps, versions)
}

func (s *Ledger) writePayoutRows(ctx context.Context, ps []payouts.Payout, versions map[string]uint64) error {
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO payouts
(payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at, version)`)
	if err != nil {
		return fmt.Errorf("preparing payouts insert: %w", err)
	}
	defer b.Abort()
	for _, p := range ps {
		failedAt := p.FailedAt
		if failedAt.IsZero() {
			failedAt = time.Unix(0, 0) // the column's zero; read back as no time
		}
		if err := b.Append(p.ID, p.Provider, p.Currency, p.Amount, p.AsOf, p.Account, p.Status, p.StatusReason,
			p.StripeTransferID, failedAt, versions[p.ID]); err != nil {
			return fmt.Errorf("appending payout %s: %w", p.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting payouts: %w", err)
	}
	return nil
}

// Payouts returns the latest version of every payout of provider (all
// providers when empty), with statements, oldest first.
func (s *Ledger) Payouts(ctx context.Context, provider string) ([]payouts.Payout, error) {
	out, err := s.payoutRows(ctx, provider)
	if err != nil || len(out) == 0 {
		return out, err
	}
	return s.withStatements(ctx, out)
}

// PayoutsOfRun returns the latest version of the payouts of the run as of
// asOf, with statements, by provider then currency.
func (s *Ledger) PayoutsOfRun(ctx context.Context, asOf time.Time) ([]payouts.Payout, error) {
	out, err := s.queryPayouts(ctx, `
SELECT payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at
FROM payouts FINAL
WHERE toUnixTimestamp64Nano(as_of) = ?
ORDER BY provider, currency`, asOf.UnixNano())
	if err != nil || len(out) == 0 {
		return out, err
	}
	return s.withStatements(ctx, out)
}

// payoutRows reads the latest version of the payouts of provider (all
// when empty), oldest first.
func (s *Ledger) payoutRows(ctx context.Context, provider string) ([]payouts.Payout, error) {
	return s.queryPayouts(ctx, `
SELECT payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at
FROM payouts FINAL
WHERE ? = '' OR provider = ?
ORDER BY as_of, provider, currency`, provider, provider)
}

// queryPayouts runs a query selecting payout rows and scans them.
func (s *Ledger) queryPayouts(ctx context.Context, query string, args ...any) ([]payouts.Payout, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("querying payouts: %w", err)
	}
	defer rows.Close()
	var out []payouts.Payout
	for rows.Next() {
		var p payouts.Payout
		if err := rows.Scan(&p.ID, &p.Provider, &p.Currency, &p.Amount, &p.AsOf, &p.Account, &p.Status, &p.StatusReason, &p.StripeTransferID, &p.FailedAt); err != nil {
			return nil, fmt.Errorf("scanning payout: %w", err)
		}
		p.AsOf = p.AsOf.UTC()
		if p.FailedAt.Unix() <= 0 {
			p.FailedAt = time.Time{}
		}
		p.FailedAt = p.FailedAt.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// withStatements reads the statement lines of the payouts out.
func (s *Ledger) withStatements(ctx context.Context, out []payouts.Payout) ([]payouts.Payout, error) {
	index := make(map[string]int, len(out))
	for i, p := range out {
		index[p.ID] = i
	}
	ids := make([]string, len(out))
	for i, p := range out {
		ids[i] = p.ID
	}
	lctx, err := withKeys(ctx, "listed_ids", "String", ids)
	if err != nil {
		return nil, err
	}
	lrows, err := s.conn.Query(lctx, `
SELECT payout_id, kind, ref, description, at, amount
FROM payout_statement_lines FINAL
WHERE payout_id IN (SELECT key FROM listed_ids)
ORDER BY payout_id, line_no`)
	if err != nil {
		return nil, fmt.Errorf("querying statements: %w", err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var id string
		var l payouts.StatementLine
		if err := lrows.Scan(&id, &l.Kind, &l.Ref, &l.Description, &l.At, &l.Amount); err != nil {
			return nil, fmt.Errorf("scanning statement line: %w", err)
		}
		l.At = l.At.UTC()
		out[index[id]].Statement = append(out[index[id]].Statement, l)
	}
	return out, lrows.Err()
}

// PayoutRun reports when a run with this as-of time happened (zero if not).
func (s *Ledger) PayoutRun(ctx context.Context, asOf time.Time) (time.Time, error) {
	var n uint64
	var at time.Time
	if err := s.conn.QueryRow(ctx, `SELECT count(), min(run_at) FROM payout_runs WHERE as_of = ?`, asOf).Scan(&n, &at); err != nil {
		return time.Time{}, fmt.Errorf("reading payout run: %w", err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return at.UTC(), nil
}

// RecordPayoutRun records a finished run.
func (s *Ledger) RecordPayoutRun(ctx context.Context, asOf, at time.Time, n int) error {
	if err := s.conn.Exec(ctx, `INSERT INTO payout_runs (as_of, run_at, payouts) VALUES (?, ?, ?)`, asOf, at, uint32(n)); err != nil {
		return fmt.Errorf("recording payout run: %w", err)
	}
	return nil
}

// LedgerEntries returns every stored ledger entry, in insertion order per
// provider and currency.
func (s *Ledger) LedgerEntries(ctx context.Context) ([]marketplace.Entry, error) {
	return s.ledgerEntries(ctx, `
SELECT entry_id, kind, provider, currency, amount, bucket, at, order_id, refund_id, payout_id, revises
FROM ledger FINAL
ORDER BY provider, currency, recorded_at, entry_id`)
}

// ledgerEntries runs a query selecting ledger rows and scans them.
func (s *Ledger) ledgerEntries(ctx context.Context, query string, args ...any) ([]marketplace.Entry, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("querying ledger: %w", err)
	}
	defer rows.Close()
	var out []marketplace.Entry
	for rows.Next() {
		var e marketplace.Entry
		var kind, cur, bucket string
		if err := rows.Scan(&e.ID, &kind, &e.Provider, &cur, &e.Amount, &bucket, &e.At, &e.OrderID, &e.RefundID, &e.PayoutID, &e.Revises); err != nil {
			return nil, fmt.Errorf("scanning ledger entry: %w", err)
		}
		c, err := money.LookupCurrency(cur)
		if err != nil {
			return nil, err
		}
		e.Kind, e.Currency, e.Bucket, e.At = marketplace.EntryKind(kind), c, marketplace.Bucket(bucket), e.At.UTC()
		e.Amount = e.Amount.Round(c.MinorUnits)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ledgerChunk bounds the rows of one ledger insert, and so the memory its
// columns take (the column slices, the driver's column buffers and the
// encoded block: about 80 MB at 100,000 rows, which the garbage collector
// then lets the heap grow by again): a first payout run can append
// millions of entries, a monthly one some 220,000.
const ledgerChunk = 25_000

// AppendLedger appends entries to the ledger, ledgerChunk rows per insert.
// Entries have deterministic ids and the table folds identical rows, so a
// crash between two chunks is repaired by the next run appending again.
func (s *Ledger) AppendLedger(ctx context.Context, entries []marketplace.Entry) error {
	for lo := 0; lo < len(entries); lo += ledgerChunk {
		if err := s.appendLedger(ctx, entries[lo:min(lo+ledgerChunk, len(entries))]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Ledger) appendLedger(ctx context.Context, entries []marketplace.Entry) error {
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO ledger (entry_id, provider, currency, kind, bucket, amount, at, order_id, refund_id, payout_id, revises)`)
	if err != nil {
		return fmt.Errorf("preparing ledger insert: %w", err)
	}
	defer b.Abort()
	n := len(entries)
	var (
		ids, providers, currencies, kinds, buckets = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		orders, refunds, payoutIDs, revises        = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		amounts                                    = make([]decimal.Decimal, n)
		ats                                        = make([]time.Time, n)
	)
	for i, e := range entries {
		ids[i], providers[i], currencies[i], kinds[i], buckets[i] = e.ID, e.Provider, e.Currency.Code, string(e.Kind), string(e.Bucket)
		amounts[i], ats[i] = e.Amount, e.At
		orders[i], refunds[i], payoutIDs[i], revises[i] = e.OrderID, e.RefundID, e.PayoutID, e.Revises
	}
	return sendColumns(b, "ledger", ids, providers, currencies, kinds, buckets, amounts, ats, orders, refunds, payoutIDs, revises)
}
