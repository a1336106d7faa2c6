package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
	"github.com/tally-billing/tally/schemas/schemastest"
)

// emptyStore holds nothing and stores nothing: the sink's own work per
// event (decode, validation, hashing, the batch's identity map), without
// ClickHouse (chstore's BenchmarkInsertEvents measures the insert).
type emptyStore struct{}

func (emptyStore) ContentHashes(context.Context, []schemas.Identity) (map[schemas.Identity][16]byte, error) {
	return nil, nil
}

func (emptyStore) InsertEvents(context.Context, []consumers.EventRow, string) error { return nil }

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
					Data: []byte(schemastest.MixEventJSON(i, at)), Timestamp: at.Add(time.Minute)}
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
