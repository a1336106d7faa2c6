package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/schemas"
)

// Usage aggregates a tenant's usage over [from, to) at query time from the
// events table (FINAL, so a row a race stored twice counts once). Sums run
// in ClickHouse; seat peaks need the ordered history and run in
// aggregators.PeakSeats.
func (s *Events) Usage(ctx context.Context, tenant string, from, to time.Time) (aggregators.Usage, error) {
	u := aggregators.Usage{
		Tenant: tenant, From: from.UTC(), To: to.UTC(),
		AICredits:   aggregators.AICreditUsage{ByFeature: map[string]decimal.Decimal{}},
		Seats:       map[string]aggregators.SeatUsage{},
		Marketplace: map[string]aggregators.MarketplaceUsage{},
	}
	if err := s.usageCredits(ctx, tenant, from, to, &u); err != nil {
		return u, err
	}
	if err := s.usageMarketplace(ctx, tenant, from, to, &u); err != nil {
		return u, err
	}
	seats, err := s.seatEvents(ctx, tenant, to)
	if err != nil {
		return u, err
	}
	for kind, su := range aggregators.PeakSeats(seats, from, to) {
		u.Seats[kind] = su
	}
	return u, nil
}

func (s *Events) usageCredits(ctx context.Context, tenant string, from, to time.Time, u *aggregators.Usage) error {
	rows, err := s.conn.Query(ctx, `
SELECT type, feature, count(), sum(credits)
FROM events FINAL
WHERE subject = ? AND type IN (?, ?) AND time >= ? AND time < ?
GROUP BY type, feature`,
		tenant, string(schemas.TypeAICreditsConsumed), string(schemas.TypeAIPackPurchased), from, to)
	if err != nil {
		return fmt.Errorf("querying AI credits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, feature string
		var n uint64
		var credits decimal.Decimal
		if err := rows.Scan(&typ, &feature, &n, &credits); err != nil {
			return fmt.Errorf("scanning AI credits: %w", err)
		}
		if typ == string(schemas.TypeAIPackPurchased) {
			u.AIPacks.Count += int64(n)
			u.AIPacks.Credits = u.AIPacks.Credits.Add(credits)
			continue
		}
		u.AICredits.Events += int64(n)
		u.AICredits.Total = u.AICredits.Total.Add(credits)
		u.AICredits.ByFeature[feature] = credits
	}
	return rows.Err()
}

func (s *Events) usageMarketplace(ctx context.Context, tenant string, from, to time.Time, u *aggregators.Usage) error {
	rows, err := s.conn.Query(ctx, `
SELECT currency,
       countIf(type = ?), sumIf(amount, type = ?), sumIf(tax, type = ?),
       countIf(type = ?), sumIf(amount, type = ?)
FROM events FINAL
WHERE subject = ? AND type IN (?, ?) AND time >= ? AND time < ?
GROUP BY currency`,
		string(schemas.TypeSaleCompleted), string(schemas.TypeSaleCompleted), string(schemas.TypeSaleCompleted),
		string(schemas.TypeRefundIssued), string(schemas.TypeRefundIssued),
		tenant, string(schemas.TypeSaleCompleted), string(schemas.TypeRefundIssued), from, to)
	if err != nil {
		return fmt.Errorf("querying marketplace: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cur string
		var m aggregators.MarketplaceUsage
		var sales, refunds uint64
		if err := rows.Scan(&cur, &sales, &m.Gross, &m.Tax, &refunds, &m.Refunded); err != nil {
			return fmt.Errorf("scanning marketplace: %w", err)
		}
		m.Sales, m.Refunds = int64(sales), int64(refunds)
		u.Marketplace[cur] = m
	}
	return rows.Err()
}

func (s *Events) seatEvents(ctx context.Context, tenant string, to time.Time) ([]aggregators.SeatEvent, error) {
	rows, err := s.conn.Query(ctx, `
SELECT time, type, user_id, seat_type
FROM events FINAL
WHERE subject = ? AND type IN (?, ?) AND time < ?
ORDER BY time, stream_seq`,
		tenant, string(schemas.TypeSeatAssigned), string(schemas.TypeSeatReleased), to)
	if err != nil {
		return nil, fmt.Errorf("querying seats: %w", err)
	}
	defer rows.Close()
	var out []aggregators.SeatEvent
	for rows.Next() {
		var e aggregators.SeatEvent
		var typ string
		if err := rows.Scan(&e.Time, &typ, &e.UserID, &e.SeatType); err != nil {
			return nil, fmt.Errorf("scanning seats: %w", err)
		}
		e.Assigned = typ == string(schemas.TypeSeatAssigned)
		out = append(out, e)
	}
	return out, rows.Err()
}
