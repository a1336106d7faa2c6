package chstore

import (
	"context"
	"testing"
	"time"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
	"github.com/tally-billing/tally/schemas/schemastest"
)

// BenchmarkInsertEvents inserts blocks of 5,000 decoded events (mostly AI
// credits, some seats and sales, as tally-bench sends) through the sink's
// insert into a real ClickHouse. ns/op includes ClickHouse's own work on
// the same cores; B/op and allocs/op are the client's encoding alone.
func BenchmarkInsertEvents(b *testing.B) {
	ctx := context.Background()
	s := newDatabase(b)
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	const n = 5000
	events := make([]*schemas.Event, n)
	for i := range events {
		e, err := schemas.Decode([]byte(schemastest.MixEventJSON(i, at)))
		if err != nil {
			b.Fatal(err)
		}
		events[i] = e
	}
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		rows := make([]consumers.EventRow, n)
		for i, e := range events {
			seq++
			rows[i] = consumers.EventRow{Event: e, Hash: e.ContentHash(), StreamSeq: seq}
		}
		if err := s.Events().InsertEvents(ctx, rows, consumers.InsertToken("bench", rows)); err != nil {
			b.Fatal(err)
		}
	}
}
