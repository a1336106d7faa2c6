package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tally-billing/tally/webhooks"
)

// Webhooks keeps the webhooks' endpoints, messages and delivery log: it
// implements webhooks.EndpointStore, webhooks.MessageLog and
// webhooks.DeliveryLog.
type Webhooks struct{ conn driver.Conn }

// Webhooks returns the webhooks' store on s's pool.
func (s *Store) Webhooks() *Webhooks { return &Webhooks{conn: s.conn} }

var (
	_ webhooks.EndpointStore = (*Webhooks)(nil)
	_ webhooks.MessageLog    = (*Webhooks)(nil)
	_ webhooks.DeliveryLog   = (*Webhooks)(nil)
)

// SaveEndpoint inserts a version of an endpoint.
func (w *Webhooks) SaveEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	var deleted uint8
	if e.Deleted {
		deleted = 1
	}
	if err := w.conn.Exec(ctx, `INSERT INTO webhook_endpoints (endpoint_id, url, event_types, tenant, secret, prev_secret,
		prev_until, disabled_at, disabled_reason, deleted, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.URL, e.EventTypes, e.Tenant, e.Secret, e.PrevSecret, e.PrevUntil, e.DisabledAt, e.DisabledReason,
		deleted, e.CreatedAt, e.Version); err != nil {
		return fmt.Errorf("saving webhook endpoint: %w", err)
	}
	return nil
}

// latestEndpoints is the highest version of each endpoint (argMax, not
// FINAL: on a cluster two versions may sit on two shards' parts).
const latestEndpoints = `SELECT endpoint_id, argMax(url, version), argMax(event_types, version), argMax(tenant, version),
	argMax(secret, version), argMax(prev_secret, version), argMax(prev_until, version), argMax(disabled_at, version),
	argMax(disabled_reason, version), argMax(deleted, version), argMax(created_at, version), max(version)
	FROM webhook_endpoints `

// Endpoints returns the latest version of every endpoint not deleted.
func (w *Webhooks) Endpoints(ctx context.Context) ([]webhooks.Endpoint, error) {
	return w.endpoints(ctx, latestEndpoints+`GROUP BY endpoint_id`)
}

// Endpoint returns the latest version of one endpoint, if not deleted.
func (w *Webhooks) Endpoint(ctx context.Context, id string) (webhooks.Endpoint, bool, error) {
	es, err := w.endpoints(ctx, latestEndpoints+`WHERE endpoint_id = ? GROUP BY endpoint_id`, id)
	if err != nil || len(es) == 0 {
		return webhooks.Endpoint{}, false, err
	}
	return es[0], true, nil
}

func (w *Webhooks) endpoints(ctx context.Context, q string, args ...any) ([]webhooks.Endpoint, error) {
	rows, err := w.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []webhooks.Endpoint
	for rows.Next() {
		var e webhooks.Endpoint
		var deleted uint8
		if err := rows.Scan(&e.ID, &e.URL, &e.EventTypes, &e.Tenant, &e.Secret, &e.PrevSecret, &e.PrevUntil,
			&e.DisabledAt, &e.DisabledReason, &deleted, &e.CreatedAt, &e.Version); err != nil {
			return nil, fmt.Errorf("scanning webhook endpoint: %w", err)
		}
		if deleted == 1 {
			continue
		}
		e.PrevUntil, e.DisabledAt, e.CreatedAt = zeroEpoch(e.PrevUntil), zeroEpoch(e.DisabledAt), e.CreatedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// zeroEpoch reads ClickHouse's zero DateTime (the epoch) as Go's zero time.
func zeroEpoch(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

// KnownMessages returns which of ids are logged.
func (w *Webhooks) KnownMessages(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := w.conn.Query(ctx, `SELECT DISTINCT message_id FROM webhook_messages WHERE message_id IN ?`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading webhook messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scanning webhook message id: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// SaveMessages logs messages.
func (w *Webhooks) SaveMessages(ctx context.Context, ms []webhooks.Message) error {
	if len(ms) == 0 {
		return nil
	}
	b, err := w.conn.PrepareBatch(ctx, `INSERT INTO webhook_messages (message_id, type, tenant, ts, data, logged_at)`)
	if err != nil {
		return fmt.Errorf("preparing webhook messages: %w", err)
	}
	now := time.Now().UTC()
	for _, m := range ms {
		if err := b.Append(m.ID, m.Type, m.Tenant, m.Timestamp, string(m.Data), now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("appending webhook message: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("saving webhook messages: %w", err)
	}
	return nil
}

// Message reads one logged message.
func (w *Webhooks) Message(ctx context.Context, id string) (webhooks.Message, bool, error) {
	rows, err := w.conn.Query(ctx, `SELECT message_id, any(type), any(tenant), any(ts), any(data) FROM webhook_messages
		WHERE message_id = ? GROUP BY message_id`, id)
	if err != nil {
		return webhooks.Message{}, false, fmt.Errorf("reading webhook message: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return webhooks.Message{}, false, rows.Err()
	}
	var m webhooks.Message
	var data string
	if err := rows.Scan(&m.ID, &m.Type, &m.Tenant, &m.Timestamp, &data); err != nil {
		return webhooks.Message{}, false, fmt.Errorf("scanning webhook message: %w", err)
	}
	m.Timestamp, m.Data = m.Timestamp.UTC(), []byte(data)
	return m, true, nil
}

// RecordAttempt appends one attempt to the delivery log.
func (w *Webhooks) RecordAttempt(ctx context.Context, a webhooks.Attempt) error {
	if err := w.conn.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, message_id, endpoint_id, type, tenant, attempt,
		at, outcome, http_status, latency_ms, response, error, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.DeliveryID, a.MessageID, a.EndpointID, a.Type, a.Tenant, uint32(max(a.N, 0)), a.At, a.Outcome,
		uint16(min(max(a.HTTPStatus, 0), 65535)), uint32(min(max(a.LatencyMS, 0), 1<<32-1)), a.Response, a.Error, a.NextAt); err != nil {
		return fmt.Errorf("logging webhook attempt: %w", err)
	}
	return nil
}

// Attempts returns the attempts matching f, newest first (at most
// f.Limit, 5,000 by default).
func (w *Webhooks) Attempts(ctx context.Context, f webhooks.AttemptFilter) ([]webhooks.Attempt, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 5000
	}
	q := `SELECT delivery_id, message_id, endpoint_id, type, tenant, attempt, at, outcome, http_status, latency_ms,
		response, error, next_attempt_at FROM webhook_attempts WHERE 1`
	var args []any
	if f.EndpointID != "" {
		q += ` AND endpoint_id = ?`
		args = append(args, f.EndpointID)
	}
	if f.DeliveryID != "" {
		q += ` AND delivery_id = ?`
		args = append(args, f.DeliveryID)
	}
	if f.EndpointIDs != nil {
		q += ` AND has(?, endpoint_id)`
		args = append(args, f.EndpointIDs)
	}
	q += ` ORDER BY at DESC, attempt DESC LIMIT ?`
	args = append(args, limit)
	rows, err := w.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the webhook delivery log: %w", err)
	}
	defer rows.Close()
	var out []webhooks.Attempt
	for rows.Next() {
		var a webhooks.Attempt
		var n, latency uint32
		var status uint16
		if err := rows.Scan(&a.DeliveryID, &a.MessageID, &a.EndpointID, &a.Type, &a.Tenant, &n, &a.At, &a.Outcome,
			&status, &latency, &a.Response, &a.Error, &a.NextAt); err != nil {
			return nil, fmt.Errorf("scanning webhook attempt: %w", err)
		}
		a.N, a.HTTPStatus, a.LatencyMS = int(n), int(status), int64(latency)
		a.Latency = time.Duration(a.LatencyMS) * time.Millisecond
		a.At, a.NextAt = a.At.UTC(), zeroEpoch(a.NextAt)
		out = append(out, a)
	}
	return out, rows.Err()
}

// FailingSince returns the first failed attempt of an endpoint after its
// last successful one (zero when the last succeeded or there is none).
func (w *Webhooks) FailingSince(ctx context.Context, endpointID string) (time.Time, error) {
	var since time.Time
	var n uint64
	err := w.conn.QueryRow(ctx, `WITH (SELECT max(at) FROM webhook_attempts WHERE endpoint_id = ? AND outcome = 'succeeded') AS ok
		SELECT count(), min(at) FROM webhook_attempts WHERE endpoint_id = ? AND outcome != 'succeeded' AND at > ok`,
		endpointID, endpointID).Scan(&n, &since)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading whether endpoint %s fails: %w", endpointID, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return since.UTC(), nil
}
