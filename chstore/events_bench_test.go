package chstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
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
		e, err := schemas.Decode([]byte(insertBenchEvent(i, at)))
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

func insertBenchEvent(i int, at time.Time) string {
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
