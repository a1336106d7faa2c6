package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
)

// emptyStore holds nothing and stores nothing: the sink's own work per
// event (decode, validation, hashing, the batch's identity map), without
// ClickHouse (chstore's BenchmarkInsertEvents measures the insert).
type emptyStore struct{}

func (emptyStore) ContentHashes(context.Context, []schemas.Identity) (map[schemas.Identity][16]byte, error) {
	return nil, nil
}

func (emptyStore) InsertEvents(context.Context, []consumers.EventRow, string) error { return nil }

// benchEventJSON is the i-th event of a mix like tally-bench's: mostly AI
// credits (with a user and a model), then seats and sales.
func benchEventJSON(i int, at time.Time) string {
	head := fmt.Sprintf(`"specversion":"1.0","id":"evt-%08d","source":"bench/app-%d","subject":"tenant-%04d","time":%q`,
		i, i%3, i%1000, at.Format(time.RFC3339Nano))
	switch {
	case i%20 == 0:
		return fmt.Sprintf(`{%s,"type":"marketplace.sale.completed","data":{"order_id":"ord-%d","buyer_id":"buyer-%d","course_id":"course-%d","gross":"59.00","tax":"9.00","currency":"USD"}}`,
			head, i, i%5000, i%300)
	case i%8 == 1:
		return fmt.Sprintf(`{%s,"type":"seat.assigned","data":{"user_id":"user-%d","seat_type":"learner"}}`, head, i%20000)
	default:
		return fmt.Sprintf(`{%s,"type":"ai.credits.consumed","data":{"credits":"%d.25","feature":"tutor","user_id":"user-%d","model":"tutor-large-2026-10"}}`,
			head, i%40, i%20000)
	}
}

// BenchmarkSinkBatch hands the sink a batch of 5,000 events from NATS
// emitters (validated inline) or from the HTTP ingest (decoded only).
// Per event: divide ns/op and allocs/op by 5,000.
func BenchmarkSinkBatch(b *testing.B) {
	at := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	for _, path := range []struct{ name, subject string }{
		{"nats", IngestSubjectPrefix + "bench"},
		{"http", EventsSubjectPrefix + "bench"},
	} {
		b.Run(path.name, func(b *testing.B) {
			batch := make([]*consumers.Message, 5000)
			for i := range batch {
				batch[i] = &consumers.Message{Subject: path.subject, Stream: EventsStream, StreamSeq: uint64(i + 1),
					Data: []byte(benchEventJSON(i, at)), Timestamp: at.Add(time.Minute)}
			}
			h := Sink(emptyStore{}, nil, nil, nil)
			b.ReportAllocs()
			for b.Loop() {
				if err := h(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			for _, m := range batch {
				if m.Rejected() != nil {
					b.Fatalf("event %d rejected: %v", m.StreamSeq, m.Rejected())
				}
			}
		})
	}
}
