package chstore

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
)

// ContentHashes returns the stored content hash of every identity among ids
// that is in the identity table. When a race ever stored one identity twice,
// the first stored (lowest stream sequence) is the one that counts.
func (s *Events) ContentHashes(ctx context.Context, ids []schemas.Identity) (map[schemas.Identity][16]byte, error) {
	out := make(map[schemas.Identity][16]byte)
	if len(ids) == 0 {
		return out, nil
	}
	tbl, err := ext.NewTable("batch_ids", ext.Column("source", "String"), ext.Column("id", "String"))
	if err != nil {
		return nil, fmt.Errorf("building identity table: %w", err)
	}
	for _, id := range ids {
		if err := tbl.Append(id.Source, id.ID); err != nil {
			return nil, fmt.Errorf("building identity table: %w", err)
		}
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithExternalTable(tbl))
	rows, err := s.conn.Query(ctx, `
SELECT source, id, argMin(content_hash, stream_seq)
FROM event_ids
WHERE (source, id) IN (SELECT source, id FROM batch_ids)
GROUP BY source, id`)
	if err != nil {
		return nil, fmt.Errorf("querying identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id schemas.Identity
		var h string
		if err := rows.Scan(&id.Source, &id.ID, &h); err != nil {
			return nil, fmt.Errorf("scanning identity: %w", err)
		}
		var hash [16]byte
		copy(hash[:], h)
		out[id] = hash
	}
	return out, rows.Err()
}

// InsertEvents inserts events into the events table (and, through the
// materialized view, the identity table) as one block carrying token as its
// insert_deduplication_token.
func (s *Events) InsertEvents(ctx context.Context, events []consumers.EventRow, token string) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"insert_deduplication_token":                         token,
		"deduplicate_blocks_in_dependent_materialized_views": 1,
	}))
	batch, err := s.conn.PrepareBatch(ctx, eventInsert)
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer batch.Abort()
	b := newEventBlock(len(events))
	for _, se := range events {
		b.add(se.Event, se.Hash, se.StreamSeq)
	}
	return b.send(batch)
}

// sendColumns appends one slice per column of batch, in the order of its
// INSERT's column list, and sends it: a column at a time, since the
// driver's per-row Append converts every value through reflection.
func sendColumns(batch driver.Batch, table string, cols ...any) error {
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("appending %s column %d: %w", table, i+1, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("inserting into %s: %w", table, err)
	}
	return nil
}

// InsertDeadLetters inserts dead letters as one block carrying token.
func (s *Events) InsertDeadLetters(ctx context.Context, entries []consumers.DeadLetterRecord, token string) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": token}))
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO dead_letters
(dlq_seq, origin_stream, origin_seq, origin_subject, source, id, type, field, reason, payload, dead_at)`)
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer batch.Abort()
	for _, d := range entries {
		if err := batch.Append(d.Seq, d.OriginStream, d.OriginSeq, d.OriginSubject, d.Source, d.ID, d.Type,
			d.Field, d.Reason, string(d.Payload), d.DeadAt); err != nil {
			return fmt.Errorf("appending dead letter %d: %w", d.Seq, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending insert: %w", err)
	}
	return nil
}
