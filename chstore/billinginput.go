package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/schemas"
)

// Activity loads the activity of every tenant with a subscription, seat or
// AI event before end, in three queries whatever the number of tenants.
func (s *Events) Activity(ctx context.Context, end time.Time) (map[string]*billing.TenantActivity, error) {
	out := map[string]*billing.TenantActivity{}
	get := func(tenant string) *billing.TenantActivity {
		a, ok := out[tenant]
		if !ok {
			a = &billing.TenantActivity{Tenant: tenant, CreditsByMonth: map[string]decimal.Decimal{}}
			out[tenant] = a
		}
		return a
	}

	stored, err := s.eventsOfTypes(ctx, end, schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged,
		schemas.TypeSubscriptionCanceled, schemas.TypeAIPackPurchased)
	if err != nil {
		return nil, err
	}
	for _, se := range stored {
		a := get(se.Event.Subject)
		if se.Event.Type == schemas.TypeAIPackPurchased {
			a.Packs = append(a.Packs, se.Event)
		} else {
			a.Subscriptions = append(a.Subscriptions, se)
		}
	}

	rows, err := s.conn.Query(ctx, `
SELECT subject, time, type, user_id, seat_type, stream_seq
FROM events FINAL
WHERE type IN (?, ?) AND time < ?
ORDER BY subject, time, stream_seq`, string(schemas.TypeSeatAssigned), string(schemas.TypeSeatReleased), end)
	if err != nil {
		return nil, fmt.Errorf("querying seats: %w", err)
	}
	for rows.Next() {
		var tenant, typ string
		var e aggregators.SeatEvent
		if err := rows.Scan(&tenant, &e.Time, &typ, &e.UserID, &e.SeatType, &e.Seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scanning seats: %w", err)
		}
		e.Assigned = typ == string(schemas.TypeSeatAssigned)
		a := get(tenant)
		a.Seats = append(a.Seats, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = s.conn.Query(ctx, `
SELECT subject, formatDateTime(time, '%Y-%m'), sum(credits)
FROM events FINAL
WHERE type = ? AND time < ?
GROUP BY subject, formatDateTime(time, '%Y-%m')`, string(schemas.TypeAICreditsConsumed), end)
	if err != nil {
		return nil, fmt.Errorf("querying credits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, month string
		var credits decimal.Decimal
		if err := rows.Scan(&tenant, &month, &credits); err != nil {
			return nil, fmt.Errorf("scanning credits: %w", err)
		}
		get(tenant).CreditsByMonth[month] = credits
	}
	return out, rows.Err()
}

// eventsOfTypes reads every event of the given types before end from its
// typed columns, in (subject, time, sequence) order.
func (s *Events) eventsOfTypes(ctx context.Context, end time.Time, types ...schemas.Type) ([]schemas.StoredEvent, error) {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	rows, err := s.conn.Query(ctx, `
SELECT `+eventColumns+`
FROM events FINAL
WHERE type IN ? AND time < ?
ORDER BY subject, time, stream_seq`, names, end)
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	return scanEvents(rows)
}

// CreditRows sums every tenant's AI credits before end between consecutive
// instants of its cuts (rating.Cuts: period starts and subscription
// changes), one row per (tenant, cut). Credits before a tenant's first cut
// are left out: callers start the cuts early enough. Tenants without cuts
// are skipped.
func (s *Events) CreditRows(ctx context.Context, end time.Time, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error) {
	return s.creditSums(ctx, cuts, `e.time < ?`, end)
}

// creditSums sums the AI credits of each tenant with cuts between
// consecutive instants of them, one row per (tenant, cut), over the
// events matching bound (a condition on e with one argument, arg).
// Credits before a tenant's first cut are left out; tenants without cuts
// are skipped.
func (s *Events) creditSums(ctx context.Context, cuts map[string][]time.Time, bound string, arg any) (map[string][]rating.CreditUsage, error) {
	out := map[string][]rating.CreditUsage{}
	tbl, err := ext.NewTable("tenant_cuts", ext.Column("tenant", "String"), ext.Column("cuts", "Array(DateTime64(9, 'UTC'))"))
	if err != nil {
		return nil, fmt.Errorf("building cuts table: %w", err)
	}
	n := 0
	for tenant, cs := range cuts {
		if len(cs) == 0 {
			continue
		}
		if err := tbl.Append(tenant, cs); err != nil {
			return nil, fmt.Errorf("building cuts table: %w", err)
		}
		n++
	}
	if n == 0 {
		return out, nil
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithExternalTable(tbl))
	rows, err := s.conn.Query(ctx, `
SELECT e.subject, arrayMax(arrayFilter(c -> c <= e.time, tc.cuts)) AS at, sum(e.credits)
FROM events AS e FINAL
INNER JOIN tenant_cuts AS tc ON e.subject = tc.tenant
WHERE e.type = ? AND `+bound+` AND e.time >= arrayMin(tc.cuts)
GROUP BY e.subject, at`, string(schemas.TypeAICreditsConsumed), arg)
	if err != nil {
		return nil, fmt.Errorf("querying credit sums: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant string
		var r rating.CreditUsage
		if err := rows.Scan(&tenant, &r.At, &r.Credits); err != nil {
			return nil, fmt.Errorf("scanning a credit sum: %w", err)
		}
		r.At = r.At.UTC()
		out[tenant] = append(out[tenant], r)
	}
	return out, rows.Err()
}

// RawEvent is a stored event as it was received: what dead-lettering
// it publishes again.
type RawEvent struct {
	Seq     uint64
	Type    string
	Payload []byte
}

// EventsBySeq returns the stored events with the given stream sequences.
func (s *Events) EventsBySeq(ctx context.Context, seqs []uint64) ([]RawEvent, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	ctx, err := withKeys(ctx, "wanted_seqs", "UInt64", seqs)
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, `SELECT stream_seq, type, payload FROM events FINAL
WHERE stream_seq IN (SELECT key FROM wanted_seqs) ORDER BY stream_seq`)
	if err != nil {
		return nil, fmt.Errorf("querying events by sequence: %w", err)
	}
	defer rows.Close()
	var out []RawEvent
	for rows.Next() {
		var e RawEvent
		var payload string
		if err := rows.Scan(&e.Seq, &e.Type, &payload); err != nil {
			return nil, fmt.Errorf("scanning event: %w", err)
		}
		e.Payload = []byte(payload)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeadLettered returns which of the given sequences of originStream are in
// the dead-letter store already.
func (s *Events) DeadLettered(ctx context.Context, originStream string, seqs []uint64) (map[uint64]bool, error) {
	out := map[uint64]bool{}
	if len(seqs) == 0 {
		return out, nil
	}
	ctx, err := withKeys(ctx, "wanted_seqs", "UInt64", seqs)
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT origin_seq FROM dead_letters
WHERE origin_stream = ? AND origin_seq IN (SELECT key FROM wanted_seqs)`, originStream)
	if err != nil {
		return nil, fmt.Errorf("querying dead letters by origin: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq uint64
		if err := rows.Scan(&seq); err != nil {
			return nil, fmt.Errorf("scanning dead letter: %w", err)
		}
		out[seq] = true
	}
	return out, rows.Err()
}
