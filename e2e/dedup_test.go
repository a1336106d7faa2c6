package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/pipeline/emitter"
)

func TestDuplicatesOverHTTPCountOnce(t *testing.T) {
	tl := startTally(t)
	now := time.Now().UTC()
	a := credits("dup-a", "tenant-dup", now, "10.5", "tutor")
	b := credits("dup-b", "tenant-dup", now, "4.5", "search")
	tl.mustAccept(2, 0, a, b)
	tl.mustAccept(0, 2, a, b)
	c := credits("dup-c", "tenant-dup", now, "0.000000001", "tutor")
	tl.mustAccept(1, 1, c, c) // the same new event twice in one batch
	// An identical event written with other whitespace, key order and time
	// zone spelling is the same content: a duplicate.
	local := now.In(time.FixedZone("X", 3600)).Format(time.RFC3339Nano)
	respelled := fmt.Sprintf(`{ "data": {"feature":"tutor", "credits":"10.5"}, "time":%q, "subject":"tenant-dup",
		"type":"ai.credits.consumed", "source":"ai-tutor", "id":"dup-a", "specversion":"1.0" }`, local)
	tl.mustAccept(0, 1, respelled)
	tl.waitRows("tenant-dup", 3)

	u := tl.usage("tenant-dup", now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	ai := u["ai_credits"].(map[string]any)
	if ai["total"] != "15.000000001" {
		t.Fatalf("credits total %v, want 15.000000001", ai["total"])
	}
}

func TestDuplicatesOverNATSCountOnce(t *testing.T) {
	tl := startTally(t)
	nc, js := natsClient(t, tl)
	defer nc.Close()
	em, err := emitter.New(js, emitter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ctx := context.Background()
	e := credits("nats-1", "tenant-nats", now, "2", "tutor")
	res, err := em.Emit(ctx, []byte(e))
	if err != nil || res.Duplicate {
		t.Fatalf("first emit: %+v %v", res, err)
	}
	res, err = em.Emit(ctx, []byte(e))
	if err != nil || !res.Duplicate {
		t.Fatalf("second emit: want a duplicate, got %+v %v", res, err)
	}
	// The same event over HTTP too, once the sink has stored it from the
	// events stream: the identity is shared by both doors.
	tl.waitRows("tenant-nats", 1)
	tl.mustAccept(0, 1, e)
	// An invalid event published raw (not through the emitter) lands in
	// the dead-letter store with its reason.
	bad := ev("raw", "nats-bad", "ai.credits.consumed", "tenant-nats", now, `{"credits":2,"feature":"tutor"}`)
	if _, err := js.Publish(ctx, "tally.ingest.raw", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	tl.waitRows("tenant-nats", 1)
	waitFor(t, time.Minute, "the dead letter", func() bool {
		return tl.count("SELECT count() FROM dead_letters WHERE id = 'nats-bad' AND field = 'data.credits'") == 1
	})
}

// TestDuplicateAfterTheJetStreamWindow resends an event after JetStream has
// forgotten it: ingest accepts it, the sink finds it in ClickHouse and
// stores nothing.
func TestDuplicateAfterTheJetStreamWindow(t *testing.T) {
	tl := startTally(t, withDedup(time.Second))
	now := time.Now().UTC()
	e := credits("late-dup", "tenant-late", now, "7", "tutor")
	tl.mustAccept(1, 0, e)
	tl.waitRows("tenant-late", 1)
	time.Sleep(1500 * time.Millisecond) // let the JetStream window pass
	tl.mustAccept(1, 0, e)              // JetStream no longer knows it
	tl.mustAccept(1, 0, credits("late-sentinel", "tenant-late-s", now, "1", "tutor"))
	tl.waitRows("tenant-late-s", 1)
	if n := tl.rows("tenant-late"); n != 1 {
		t.Fatalf("%d rows stored for one event resent after the window", n)
	}
	if n := tl.count("SELECT count() FROM event_ids WHERE id = 'late-dup'"); n != 1 {
		t.Fatalf("%d identity rows", n)
	}
}

// TestConflictingDuplicateIsDeadLettered sends a second event with a known
// identity and other content: the first wins, the second is in the
// dead-letter store with the reason.
func TestConflictingDuplicateIsDeadLettered(t *testing.T) {
	tl := startTally(t)
	now := time.Now().UTC()
	tl.mustAccept(1, 0, credits("conf-1", "tenant-conf", now, "5", "tutor"))
	tl.waitRows("tenant-conf", 1)
	tl.mustAccept(1, 0, credits("conf-1", "tenant-conf", now, "500", "tutor"))
	waitFor(t, time.Minute, "the conflict in dead_letters", func() bool {
		return tl.count("SELECT count() FROM dead_letters WHERE id = 'conf-1' AND reason LIKE '%conflicting duplicate%'") == 1
	})
	u := tl.usage("tenant-conf", now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if got := u["ai_credits"].(map[string]any)["total"]; got != "5" {
		t.Fatalf("credits %v, want the first event's 5", got)
	}
	// Two different events with one identity in one request: 400.
	status, body := tl.sendBatch(credits("conf-2", "tenant-conf", now, "1", "tutor"), credits("conf-2", "tenant-conf", now, "2", "tutor"))
	if status != 400 {
		t.Fatalf("conflict inside one batch: status %d: %s", status, body)
	}
}

func natsClient(t *testing.T, tl *tally) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(tl.d.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
