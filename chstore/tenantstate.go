package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/entitlements"
	"github.com/tally-billing/tally/schemas"
)

// The reads of the live tenant state (entitlements.Store): the events it
// folds by stream sequence, and the AI credits summed between cuts.
//
// A boot (after = 0) reads with FINAL, like billing. Following (after >
// 0) reads only the rows stored after a position, through the minmax
// index on stream_seq (migration 0012), without FINAL, which would read
// every part: the copies FINAL folds only exist when two replicas raced
// on one identity (ADR 0001, "Limits"), and a copy stored inside one
// read is dropped here by identity.

// StateEvents returns the stored events the tenant state folds, with
// after < stream_seq ≤ through, in stream order; without credits it
// leaves ai.credits.consumed out.
func (s *Events) StateEvents(ctx context.Context, after, through uint64, credits bool) ([]schemas.StoredEvent, error) {
	var types []string
	for _, t := range entitlements.StateTypes() {
		if credits || t != schemas.TypeAICreditsConsumed {
			types = append(types, string(t))
		}
	}
	final := ""
	if after == 0 {
		final = " FINAL"
	}
	rows, err := s.conn.Query(ctx, `
SELECT `+eventColumns+`
FROM events`+final+`
WHERE stream_seq > ? AND stream_seq <= ? AND type IN ?
ORDER BY stream_seq`, after, through, types)
	if err != nil {
		return nil, fmt.Errorf("querying the tenant state's events: %w", err)
	}
	stored, err := scanEvents(rows)
	if err != nil {
		return nil, err
	}
	seen := make(map[schemas.Identity]bool, len(stored))
	out := stored[:0]
	for _, se := range stored {
		id := se.Event.Identity()
		if !seen[id] {
			seen[id] = true
			out = append(out, se)
		}
	}
	return out, nil
}

// CreditMonths returns, per tenant, the months with AI credits stored at
// or below through.
func (s *Events) CreditMonths(ctx context.Context, through uint64) (map[string][]rating.Period, error) {
	rows, err := s.conn.Query(ctx, `
SELECT DISTINCT subject, toStartOfMonth(time) AS month
FROM events FINAL
WHERE type = ? AND stream_seq <= ?
ORDER BY subject, month`, string(schemas.TypeAICreditsConsumed), through)
	if err != nil {
		return nil, fmt.Errorf("querying the months with AI credits: %w", err)
	}
	defer rows.Close()
	out := map[string][]rating.Period{}
	for rows.Next() {
		var tenant string
		var month time.Time
		if err := rows.Scan(&tenant, &month); err != nil {
			return nil, fmt.Errorf("scanning a month with AI credits: %w", err)
		}
		out[tenant] = append(out[tenant], rating.PeriodOf(time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)))
	}
	return out, rows.Err()
}

// CreditSums sums each tenant's AI credits stored at or below through
// between consecutive instants of its cuts, one row per (tenant, cut), as
// CreditRows does for billing.
func (s *Events) CreditSums(ctx context.Context, through uint64, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error) {
	return s.creditSums(ctx, cuts, `e.stream_seq <= ?`, through)
}
