package chstore

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/schemas"
)

// The marketplace events payouts read (payouts.EventSource for the full
// derivation, payouts.LaterEvents for a run continued from a snapshot,
// and a balance's later events): every marketplace.sale.completed,
// marketplace.refund.issued, provider.kyc.verified and provider.kyc.revoked
// event, scanned from the typed columns (eventrows.go).

// marketplaceTypes is the list of those types in SQL.
const marketplaceTypes = "'" + string(schemas.TypeSaleCompleted) + "', '" + string(schemas.TypeRefundIssued) +
	"', '" + string(schemas.TypeKYCVerified) + "', '" + string(schemas.TypeKYCRevoked) + "'"

// MarketplaceEvents returns every sale, refund and KYC event with time at
// or before end, in (time, sequence) order.
func (s *Events) MarketplaceEvents(ctx context.Context, end time.Time) ([]schemas.StoredEvent, error) {
	out, _, err := s.marketplaceEvents(ctx, false, `
SELECT `+marketplaceColumns+`
FROM events FINAL
WHERE type IN (`+marketplaceTypes+`)
  AND time <= ?
ORDER BY time, stream_seq`, end)
	return out, err
}

// ProviderEvents returns, with time at or before end, every sale, refund
// and KYC event of provider, then every sale of another provider with the
// order id of one of provider's sales or refunds (see
// payouts.EventSource). The first query reads one subject of the events
// table's key; the second (othersSales) the granules that may hold one
// of those orders.
func (s *Events) ProviderEvents(ctx context.Context, provider string, end time.Time) ([]schemas.StoredEvent, error) {
	own, orders, err := s.marketplaceEvents(ctx, true, `
SELECT `+marketplaceColumns+`
FROM events FINAL
WHERE subject = ?
  AND type IN (`+marketplaceTypes+`)
  AND time <= ?
ORDER BY time, stream_seq`, provider, end)
	if err != nil {
		return nil, err
	}
	others, err := s.othersSales(ctx, provider, orders, `time <= ?`, end)
	return append(own, others...), err
}

// othersSales returns the sales of providers other than provider that
// name one of orders and match bound (a condition with args), in (time,
// sequence) order: read through the bloom filter on order_id (migration
// 0011), which reads only the granules that may hold one of them, and
// without FINAL, which would merge the keys of the whole table for a few
// rows: a copy of a row may come twice, and the caller counts an
// identity once.
func (s *Events) othersSales(ctx context.Context, provider string, orders []string, bound string, args ...any) ([]schemas.StoredEvent, error) {
	if len(orders) == 0 {
		return nil, nil
	}
	octx, err := withKeys(ctx, "provider_orders", "String", orders)
	if err != nil {
		return nil, err
	}
	out, _, err := s.marketplaceEvents(octx, false, `
SELECT `+marketplaceColumns+`
FROM events
WHERE type = 'marketplace.sale.completed' AND subject != ? AND `+bound+`
  AND order_id IN (SELECT key FROM provider_orders)
ORDER BY time, stream_seq`, append([]any{provider}, args...)...)
	return out, err
}

// marketplaceEvents runs a query selecting marketplaceColumns and scans the
// events; when withOrders is set it also returns the distinct non-empty
// order ids of their sales and refunds.
func (s *Events) marketplaceEvents(ctx context.Context, withOrders bool, query string, args ...any) ([]schemas.StoredEvent, []string, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("querying marketplace events: %w", err)
	}
	out, err := scanEvents(rows)
	if err != nil || !withOrders {
		return out, nil, err
	}
	var orders []string
	seen := map[string]bool{}
	for _, se := range out {
		var order string
		switch d := se.Event.Data.(type) {
		case *schemas.SaleCompleted:
			order = d.OrderID
		case *schemas.RefundIssued:
			order = d.OrderID
		}
		if order != "" && !seen[order] {
			seen[order] = true
			orders = append(orders, order)
		}
	}
	return out, orders, nil
}

// EventsAfter returns the marketplace events a snapshot at position, as
// of at, does not hold: stored after position or dated after at (every
// one with zero arguments). It reads without FINAL, which would merge the
// whole table's keys: copies of a row (a redelivered insert, not merged
// yet) may come twice, and the caller counts an identity once.
func (s *Events) EventsAfter(ctx context.Context, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	out, _, err := s.marketplaceEvents(ctx, false, `
SELECT `+marketplaceColumns+`
FROM events
WHERE type IN (`+marketplaceTypes+`)
  AND (stream_seq > ? OR toUnixTimestamp64Nano(time) > ?)
ORDER BY time, stream_seq`, position, orNoTime(at).UnixNano())
	return out, err
}

// ProviderEventsAfter returns what one provider's balance needs besides
// its part of a snapshot at position, as of at (see
// marketplace.ProviderBalances): its events stored after position or
// dated after at, and every sale of another provider stored after
// position or dated after at naming the order id of one of provider's
// sales in the ledger (the sales runs accepted, up to the snapshot) or
// of one of its sales and refunds after the snapshot.
//
// Three selects, each by an index: the provider's events by the events
// table's key and its ledger sales by the ledger's, side by side; then
// the other providers' sales (othersSales). Like EventsAfter, without
// FINAL.
func (s *Events) ProviderEventsAfter(ctx context.Context, provider string, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	after := orNoTime(at).UnixNano()
	var own []schemas.StoredEvent
	var orders, ownOrders []string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		own, ownOrders, err = s.marketplaceEvents(gctx, true, `
SELECT `+marketplaceColumns+`
FROM events
WHERE subject = ? AND type IN (`+marketplaceTypes+`)
  AND (stream_seq > ? OR toUnixTimestamp64Nano(time) > ?)`, provider, position, after)
		return err
	})
	g.Go(func() (err error) {
		orders, err = s.ledgerSaleOrders(gctx, provider)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	others, err := s.othersSales(ctx, provider, append(orders, ownOrders...),
		`(stream_seq > ? OR toUnixTimestamp64Nano(time) > ?)`, position, after)
	return append(own, others...), err
}

// ledgerSaleOrders returns the order ids of provider's sales in the
// ledger: the sales runs accepted.
func (s *Events) ledgerSaleOrders(ctx context.Context, provider string) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT order_id FROM ledger WHERE provider = ? AND kind = 'sale'`, provider)
	if err != nil {
		return nil, fmt.Errorf("querying the ledger's sales of %q: %w", provider, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var order string
		if err := rows.Scan(&order); err != nil {
			return nil, fmt.Errorf("scanning a ledger sale's order: %w", err)
		}
		out = append(out, order)
	}
	return out, rows.Err()
}

// ProvidersEvents returns every sale, refund and KYC event whose subject
// is one of providers, whatever its time. Like EventsAfter, without
// FINAL (which took three times as long on a year of events): a copy of
// a row may come twice, and the caller counts an identity once.
func (s *Events) ProvidersEvents(ctx context.Context, providers []string) ([]schemas.StoredEvent, error) {
	pctx, err := withKeys(ctx, "history_providers", "String", providers)
	if err != nil {
		return nil, err
	}
	out, _, err := s.marketplaceEvents(pctx, false, `
SELECT `+marketplaceColumns+`
FROM events
WHERE subject IN (SELECT key FROM history_providers)
  AND type IN (`+marketplaceTypes+`)
ORDER BY time, stream_seq`)
	return out, err
}

// OrderEvents returns the sales and refunds naming one of orderIDs that a
// snapshot at position, as of at, counted: stored at or before position
// and dated at or before at. Like EventsAfter, without FINAL.
func (s *Events) OrderEvents(ctx context.Context, orderIDs []string, position uint64, at time.Time) ([]schemas.StoredEvent, error) {
	octx, err := withKeys(ctx, "named_orders", "String", orderIDs)
	if err != nil {
		return nil, err
	}
	out, _, err := s.marketplaceEvents(octx, false, `
SELECT `+marketplaceColumns+`
FROM events
WHERE type IN ('marketplace.sale.completed', 'marketplace.refund.issued')
  AND order_id IN (SELECT key FROM named_orders)
  AND stream_seq <= ? AND toUnixTimestamp64Nano(time) <= ?
ORDER BY time, stream_seq`, position, at.UnixNano())
	return out, err
}
