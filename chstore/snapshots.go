package chstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// noTime is the DateTime64 columns' "no time" (1970-01-01).
var noTime = time.Unix(0, 0).UTC()

// SaveLedgerSnapshot stores snap: the pairs, their statement lines, the
// orders, KYC and payouts, then the header row, last, so that a snapshot
// cut short by a crash is never read. Every row carries savedAt: a
// snapshot of the same as_of stored again (a run retried after a crash)
// is a new one beside it, and the latest is read.
func (s *Ledger) SaveLedgerSnapshot(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time) error {
	asOf := snap.At.UTC()
	steps := []struct {
		table string
		query string
		rows  func(appendRow func(args ...any) error) error
	}{
		{"ledger_snapshot_pairs", `INSERT INTO ledger_snapshot_pairs (as_of, saved_at, provider, currency, held, available, paid, last_payout_id, last_payout_at, opening)`,
			func(row func(...any) error) error {
				for _, p := range snap.Pairs {
					if err := row(asOf, savedAt, p.Provider, p.Currency.Code, p.Held, p.Available, p.Paid, p.LastPayoutID, orNoTime(p.LastPayoutAt), p.Opening); err != nil {
						return err
					}
				}
				return nil
			}},
		{"ledger_snapshot_lines", `INSERT INTO ledger_snapshot_lines (as_of, saved_at, provider, currency, line_no, kind, at, order_id, course_id, refund_id, payout_id, entry_id, amount)`,
			func(row func(...any) error) error {
				for _, p := range snap.Pairs {
					for i, l := range p.Lines {
						if err := row(asOf, savedAt, p.Provider, p.Currency.Code, uint32(i+1), string(l.Kind), l.At, l.OrderID, l.CourseID, l.RefundID, l.PayoutID, l.EntryID, l.Amount); err != nil {
							return err
						}
					}
				}
				return nil
			}},
		{"ledger_snapshot_orders", `INSERT INTO ledger_snapshot_orders (as_of, saved_at, provider, order_id, refund_no, event_id, refund_id, at, currency, gross, tax, amount, buyer_id, course_id)`,
			func(row func(...any) error) error {
				zero := decimal.Zero
				for _, o := range snap.Orders {
					sl := o.Sale
					if err := row(asOf, savedAt, sl.Provider, sl.OrderID, uint32(0), sl.EventID, "", sl.At, sl.Currency.Code, sl.Gross, sl.Tax, zero, sl.BuyerID, sl.CourseID); err != nil {
						return err
					}
					for i, r := range o.Refunds {
						if err := row(asOf, savedAt, sl.Provider, sl.OrderID, uint32(i+1), r.EventID, r.RefundID, r.At, sl.Currency.Code, zero, zero, r.Amount, "", ""); err != nil {
							return err
						}
					}
				}
				return nil
			}},
		{"ledger_snapshot_kyc", `INSERT INTO ledger_snapshot_kyc (as_of, saved_at, provider, at, verified, stripe_account, event_id)`,
			func(row func(...any) error) error {
				for _, k := range snap.KYC {
					verified := uint8(0)
					if k.Verified {
						verified = 1
					}
					if err := row(asOf, savedAt, k.Provider, k.At, verified, k.StripeAccount, k.EventID); err != nil {
						return err
					}
				}
				return nil
			}},
		{"ledger_snapshot_payouts", `INSERT INTO ledger_snapshot_payouts (as_of, saved_at, payout_id, provider, currency, at, amount, account, failed_at)`,
			func(row func(...any) error) error {
				for _, p := range snap.Payouts {
					failed := noTime
					if p.Status == marketplace.PayoutFailed {
						failed = p.FailedAt
					}
					if err := row(asOf, savedAt, p.ID, p.Provider, p.Currency.Code, p.At, p.Amount, p.StripeAccount, failed); err != nil {
						return err
					}
				}
				return nil
			}},
	}
	for _, st := range steps {
		if err := s.insertRows(ctx, st.table, st.query, st.rows); err != nil {
			return err
		}
	}
	// The header last, written like the rows. Readers match the rows on
	// as_of and saved_at as Unix nanoseconds: a time bound as a query
	// parameter loses its fraction.
	if err := s.insertRows(ctx, "ledger_snapshots", `INSERT INTO ledger_snapshots (as_of, saved_at, position, pairs, orders)`,
		func(row func(...any) error) error {
			return row(asOf, savedAt, snap.Position, uint32(len(snap.Pairs)), uint32(len(snap.Orders)))
		}); err != nil {
		return err
	}
	s.learnHeader(snapshotHead{at: asOf, savedAt: savedAt, position: snap.Position})
	return nil
}

func orNoTime(t time.Time) time.Time {
	if t.IsZero() {
		return noTime
	}
	return t
}

func (s *Ledger) insertRows(ctx context.Context, table, query string, rows func(func(...any) error) error) error {
	b, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("preparing %s insert: %w", table, err)
	}
	defer b.Abort()
	if err := rows(func(args ...any) error { return b.Append(args...) }); err != nil {
		return fmt.Errorf("appending to %s: %w", table, err)
	}
	if b.Rows() == 0 {
		return nil
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting into %s: %w", table, err)
	}
	return nil
}

// LedgerSnapshot returns the latest whole snapshot with as_of at or before
// asOf (the last stored of that as_of); nil if there is none.
func (s *Ledger) LedgerSnapshot(ctx context.Context, asOf time.Time) (*marketplace.Snapshot, error) {
	snap, savedAt, err := s.snapshotHeader(ctx, asOf)
	if err != nil || snap == nil {
		return nil, err
	}
	if err := s.readSnapshotPairs(ctx, snap, savedAt, ""); err != nil {
		return nil, err
	}
	if err := s.readSnapshotOrders(ctx, snap, savedAt, ""); err != nil {
		return nil, err
	}
	if err := s.readSnapshotKYC(ctx, snap, savedAt); err != nil {
		return nil, err
	}
	if err := s.readSnapshotPayouts(ctx, snap, savedAt, ""); err != nil {
		return nil, err
	}
	return snap, nil
}

// ProviderState returns provider's part of the latest whole snapshot at
// or before asOf (marketplace.Snapshot.Of) as far as a balance needs it
// (its balances, held orders and failed payouts, without statement lines
// and KYC) and the events its balance needs after it
// (Events.ProviderEventsAfter). The snapshot's header comes from memory
// when one at or before asOf was read or stored in the last headerTTL;
// then the four reads go at once, each by key. Nil and no events if
// there is no snapshot.
func (s *Ledger) ProviderState(ctx context.Context, provider string, asOf time.Time) (*marketplace.Snapshot, []schemas.StoredEvent, error) {
	h, ok := s.knownHeader(asOf)
	if !ok {
		snap, savedAt, err := s.snapshotHeader(ctx, asOf)
		if err != nil || snap == nil {
			return nil, nil, err
		}
		h = snapshotHead{at: snap.At, savedAt: savedAt, position: snap.Position}
		s.learnHeader(h)
	}
	snap, savedAt := &marketplace.Snapshot{At: h.at, Position: h.position}, h.savedAt
	parts := []*marketplace.Snapshot{{At: snap.At}, {At: snap.At}, {At: snap.At}}
	var events []schemas.StoredEvent
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.readSnapshotPairs(gctx, parts[0], savedAt, provider) })
	g.Go(func() error { return s.readSnapshotOrders(gctx, parts[1], savedAt, provider) })
	g.Go(func() error { return s.readSnapshotPayouts(gctx, parts[2], savedAt, provider) })
	g.Go(func() (err error) {
		events, err = s.events.ProviderEventsAfter(gctx, provider, snap.Position, snap.At)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	snap.Pairs, snap.Orders, snap.Payouts = parts[0].Pairs, parts[1].Orders, parts[2].Payouts
	return snap, events, nil
}

// snapshotHeader returns the header of the latest whole snapshot at or
// before asOf (At and Position) with its saved_at; nil if none.
func (s *Ledger) snapshotHeader(ctx context.Context, asOf time.Time) (*marketplace.Snapshot, time.Time, error) {
	var n uint64
	var at, savedAt time.Time
	var position uint64
	if err := s.conn.QueryRow(ctx, `
SELECT count(), max(as_of), argMax(position, (as_of, saved_at)), argMax(saved_at, (as_of, saved_at))
FROM ledger_snapshots WHERE toUnixTimestamp64Nano(as_of) <= ?`, asOf.UnixNano()).Scan(&n, &at, &position, &savedAt); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the ledger snapshot header: %w", err)
	}
	if n == 0 {
		return nil, time.Time{}, nil
	}
	return &marketplace.Snapshot{At: at.UTC(), Position: position}, savedAt, nil
}

// ofSnapshot is the condition selecting the rows of the snapshot as of at
// saved at savedAt, of provider only when it is not empty, with its
// arguments. Rows are matched on as_of and saved_at as Unix nanoseconds:
// a time bound as a query parameter loses its fraction.
func ofSnapshot(at, savedAt time.Time, provider string) (string, []any) {
	where, args := `toUnixTimestamp64Nano(as_of) = ? AND toUnixTimestamp64Nano(saved_at) = ?`, []any{at.UnixNano(), savedAt.UnixNano()}
	if provider != "" {
		where, args = where+` AND provider = ?`, append(args, provider)
	}
	return where, args
}

// readSnapshotPairs reads the balances of the snapshot (of provider only
// when it is not empty) and, of the whole snapshot, the statement lines.
func (s *Ledger) readSnapshotPairs(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time, provider string) error {
	where, args := ofSnapshot(snap.At, savedAt, provider)
	rows, err := s.conn.Query(ctx, `
SELECT provider, currency, held, available, paid, last_payout_id, last_payout_at, opening
FROM ledger_snapshot_pairs FINAL WHERE `+where+` ORDER BY provider, currency`, args...)
	if err != nil {
		return fmt.Errorf("querying snapshot balances: %w", err)
	}
	defer rows.Close()
	index := map[[2]string]int{}
	for rows.Next() {
		var p marketplace.PairState
		var cur string
		if err := rows.Scan(&p.Provider, &cur, &p.Held, &p.Available, &p.Paid, &p.LastPayoutID, &p.LastPayoutAt, &p.Opening); err != nil {
			return fmt.Errorf("scanning snapshot balance: %w", err)
		}
		if p.Currency, err = money.LookupCurrency(cur); err != nil {
			return err
		}
		p.LastPayoutAt = p.LastPayoutAt.UTC()
		if p.LastPayoutID == "" {
			p.LastPayoutAt = time.Time{}
		}
		index[[2]string{p.Provider, cur}] = len(snap.Pairs)
		snap.Pairs = append(snap.Pairs, p)
	}
	if err := rows.Err(); err != nil || provider != "" {
		return err
	}
	lrows, err := s.conn.Query(ctx, `
SELECT provider, currency, kind, at, order_id, course_id, refund_id, payout_id, entry_id, amount
FROM ledger_snapshot_lines FINAL WHERE `+where+` ORDER BY provider, currency, line_no`, args...)
	if err != nil {
		return fmt.Errorf("querying snapshot statement lines: %w", err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var provider, cur, kind string
		var l marketplace.StatementLine
		if err := lrows.Scan(&provider, &cur, &kind, &l.At, &l.OrderID, &l.CourseID, &l.RefundID, &l.PayoutID, &l.EntryID, &l.Amount); err != nil {
			return fmt.Errorf("scanning snapshot statement line: %w", err)
		}
		i, ok := index[[2]string{provider, cur}]
		if !ok {
			return fmt.Errorf("snapshot statement line of %s %s without its balance row", provider, cur)
		}
		l.Kind, l.At = marketplace.LineKind(kind), l.At.UTC()
		snap.Pairs[i].Lines = append(snap.Pairs[i].Lines, l)
	}
	return lrows.Err()
}

func (s *Ledger) readSnapshotOrders(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time, provider string) error {
	where, args := ofSnapshot(snap.At, savedAt, provider)
	rows, err := s.conn.Query(ctx, `
SELECT provider, order_id, refund_no, event_id, refund_id, at, currency, gross, tax, amount, buyer_id, course_id
FROM ledger_snapshot_orders FINAL WHERE `+where+` ORDER BY provider, order_id, refund_no`, args...)
	if err != nil {
		return fmt.Errorf("querying snapshot orders: %w", err)
	}
	defer rows.Close()
	currencies := map[string]money.Currency{}
	for rows.Next() {
		var provider, order, eventID, refundID, cur, buyer, course string
		var no uint32
		var at time.Time
		var gross, tax, amount decimal.Decimal
		if err := rows.Scan(&provider, &order, &no, &eventID, &refundID, &at, &cur, &gross, &tax, &amount, &buyer, &course); err != nil {
			return fmt.Errorf("scanning snapshot order: %w", err)
		}
		c, ok := currencies[cur]
		if !ok {
			if c, err = money.LookupCurrency(cur); err != nil {
				return err
			}
			currencies[cur] = c
		}
		if no == 0 {
			snap.Orders = append(snap.Orders, marketplace.OrderState{Sale: marketplace.Sale{EventID: eventID, Provider: provider, OrderID: order,
				BuyerID: buyer, CourseID: course, At: at.UTC(), Currency: c, Gross: gross, Tax: tax}})
			continue
		}
		last := len(snap.Orders) - 1
		if last < 0 || snap.Orders[last].Sale.OrderID != order {
			return fmt.Errorf("snapshot refund %s of order %s without its sale row", refundID, order)
		}
		o := &snap.Orders[last]
		o.Refunds = append(o.Refunds, marketplace.Refund{EventID: eventID, Provider: provider, OrderID: order, RefundID: refundID,
			At: at.UTC(), Currency: c, Amount: amount})
	}
	return rows.Err()
}

func (s *Ledger) readSnapshotKYC(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time) error {
	where, args := ofSnapshot(snap.At, savedAt, "")
	rows, err := s.conn.Query(ctx, `
SELECT provider, at, verified, stripe_account, event_id FROM ledger_snapshot_kyc FINAL WHERE `+where+` ORDER BY provider`, args...)
	if err != nil {
		return fmt.Errorf("querying snapshot KYC: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k marketplace.KYCChange
		var verified uint8
		if err := rows.Scan(&k.Provider, &k.At, &verified, &k.StripeAccount, &k.EventID); err != nil {
			return fmt.Errorf("scanning snapshot KYC: %w", err)
		}
		k.At, k.Verified = k.At.UTC(), verified == 1
		snap.KYC = append(snap.KYC, k)
	}
	return rows.Err()
}

func (s *Ledger) readSnapshotPayouts(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time, provider string) error {
	where, args := ofSnapshot(snap.At, savedAt, provider)
	prows, err := s.conn.Query(ctx, `
SELECT payout_id, provider, currency, at, amount, account, failed_at
FROM ledger_snapshot_payouts FINAL WHERE `+where+` ORDER BY at, payout_id`, args...)
	if err != nil {
		return fmt.Errorf("querying snapshot payouts: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var p marketplace.Payout
		var cur string
		var failed time.Time
		if err := prows.Scan(&p.ID, &p.Provider, &cur, &p.At, &p.Amount, &p.StripeAccount, &failed); err != nil {
			return fmt.Errorf("scanning snapshot payout: %w", err)
		}
		if p.Currency, err = money.LookupCurrency(cur); err != nil {
			return err
		}
		p.At, p.Amount, p.Status = p.At.UTC(), p.Amount.Round(p.Currency.MinorUnits), marketplace.PayoutPaid
		if failed.Unix() > 0 {
			p.Status, p.FailedAt = marketplace.PayoutFailed, failed.UTC()
		}
		snap.Payouts = append(snap.Payouts, p)
	}
	return prows.Err()
}

// LedgerEntriesOf returns the stored ledger entries of providers, and
// every stored entry dated after after: the ones a run continued from a
// snapshot derives again (marketplace.Ledger.Rederives).
func (s *Ledger) LedgerEntriesOf(ctx context.Context, providers []string, after time.Time) ([]marketplace.Entry, error) {
	pctx, err := withKeys(ctx, "rederived_providers", "String", providers)
	if err != nil {
		return nil, err
	}
	// Without FINAL: rows of one entry id are identical (a re-append of a
	// deterministic entry), so one of each is kept here, and the filter
	// on at reads that column only instead of merging the whole ledger.
	// Two selects rather than one OR: the first reads the providers by
	// the table's key, the second the at column only.
	rows, err := s.ledgerEntries(pctx, `
SELECT entry_id, kind, provider, currency, amount, bucket, at, order_id, refund_id, payout_id, revises FROM (
    SELECT entry_id, kind, provider, currency, amount, bucket, at, order_id, refund_id, payout_id, revises, recorded_at
    FROM ledger WHERE provider IN (SELECT key FROM rederived_providers)
    UNION ALL
    SELECT entry_id, kind, provider, currency, amount, bucket, at, order_id, refund_id, payout_id, revises, recorded_at
    FROM ledger WHERE toUnixTimestamp64Nano(at) > ? AND provider NOT IN (SELECT key FROM rederived_providers)
)
ORDER BY provider, currency, recorded_at, entry_id`, after.UnixNano())
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(rows))
	return slices.DeleteFunc(rows, func(e marketplace.Entry) bool {
		dup := seen[e.ID]
		seen[e.ID] = true
		return dup
	}), nil
}
