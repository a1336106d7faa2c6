package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/natsembed"
	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/schemas"
)

// TestTwoHopDataDirDrainsAfterTheUpgrade starts Tally on a data dir left by
// a version before the single hop (raw NATS events waiting in TALLY_INGEST
// for the validator, validated ones in TALLY_EVENTS for the sink, one
// event in both as after a validator crash between its publish and its
// ack): the first barrier after the start passes only once every one of
// them is stored, each once, the invalid one is dead-lettered, the ingest
// stream is empty and emitters' new events take the one hop.
func TestTwoHopDataDirDrainsAfterTheUpgrade(t *testing.T) {
	dataDir := t.TempDir()
	now := time.Now().UTC()
	const tenant = "tenant-upgrade"
	var validated, raw []string
	for i := range 300 {
		validated = append(validated, credits(fmt.Sprintf("http-%d", i), tenant, now, "1", "tutor"))
		raw = append(raw, credits(fmt.Sprintf("nats-%d", i), tenant, now, "1", "tutor"))
	}
	bad := ev("raw", "nats-bad", "ai.credits.consumed", tenant, now, `{"credits":-2,"feature":"tutor"}`)
	leaveTwoHopStore(t, filepath.Join(dataDir, "nats"), validated, raw, bad)

	tl := startTally(t, withDataDir(dataDir))
	var p pipeline.Progress
	waitFor(t, 2*time.Minute, "the barrier to pass", func() bool {
		status, _, body := tl.do(http.MethodPost, "/v1/pipeline/barrier", tl.ingest, "", nil)
		if status != http.StatusOK {
			return false
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if n := tl.rows(tenant); n != 600 {
		t.Fatalf("after the first barrier: %d rows, want the 600 valid events the old version acknowledged, each once", n)
	}
	if p.Ingest.Pending != 0 || p.Events.Pending != 0 {
		t.Fatalf("progress after the barrier: %+v", p)
	}
	waitFor(t, time.Minute, "the invalid legacy event in dead_letters", func() bool {
		return tl.count("SELECT count() FROM dead_letters WHERE id = 'nats-bad' AND field = 'data.credits' AND origin_stream = ?",
			pipeline.EventsStream) == 1
	})

	nc, js := natsClient(t, tl)
	defer nc.Close()
	ctx := context.Background()
	ingest, err := js.Stream(ctx, pipeline.IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := ingest.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("legacy ingest stream after the drain: %+v %v, want it empty", info, err)
	}
	ack, err := js.Publish(ctx, "tally.ingest.events", []byte(credits("nats-new", tenant, now, "1", "tutor")))
	if err != nil || ack.Stream != pipeline.EventsStream {
		t.Fatalf("a new emitter's event: %+v %v, want it in %s", ack, err, pipeline.EventsStream)
	}
	tl.waitRows(tenant, 601)
}

// leaveTwoHopStore writes, in a JetStream store at dir, what a version
// before the single hop would leave: its streams and durable consumers,
// validated events in TALLY_EVENTS and raw ones (plus bad) in TALLY_INGEST,
// the first raw one in both.
func leaveTwoHopStore(t *testing.T, dir string, validated, raw []string, bad string) {
	t.Helper()
	ctx := context.Background()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir, ListenAddr: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	month := 30 * 24 * time.Hour
	for _, sc := range []jetstream.StreamConfig{
		{Name: pipeline.EventsStream, Subjects: []string{"tally.events.>"}, Retention: jetstream.LimitsPolicy,
			Discard: jetstream.DiscardNew, MaxAge: month, MaxMsgSize: 1 << 20, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute},
		{Name: pipeline.IngestStream, Subjects: []string{"tally.ingest.>"}, Retention: jetstream.WorkQueuePolicy,
			Discard: jetstream.DiscardNew, MaxAge: month, MaxMsgSize: 1 << 20, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute},
		{Name: pipeline.DeadLetterStream, Subjects: []string{"tally.dlq.>"}, Retention: jetstream.LimitsPolicy,
			Discard: jetstream.DiscardOld, MaxAge: 3 * month, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute},
	} {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		stream, durable   string
		batch, ackPending int
	}{
		{pipeline.EventsStream, daemon.SinkConsumer, 5000, 20000},
		{pipeline.IngestStream, daemon.ValidatorConsumer, 1000, 8000},
	} {
		if _, err := js.CreateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
			Durable: c.durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Minute,
			MaxAckPending: c.ackPending, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy, MaxRequestBatch: c.batch,
		}); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := pipeline.NewPublisher(js, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var events, ingest []*nats.Msg
	for _, r := range validated {
		events = append(events, pipeline.EventMsg(decoded(t, r)))
	}
	for i, r := range raw {
		e := decoded(t, r)
		m := nats.NewMsg("tally.ingest.events")
		m.Data = e.Raw
		m.Header.Set(jetstream.MsgIDHeader, pipeline.EventMsgID(e))
		ingest = append(ingest, m)
		if i == 0 {
			events = append(events, pipeline.EventMsg(e))
		}
	}
	ingest = append(ingest, &nats.Msg{Subject: "tally.ingest.raw", Data: []byte(bad)})
	for _, msgs := range [][]*nats.Msg{events, ingest} {
		if _, err := pub.Publish(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	for stream, want := range map[string]uint64{pipeline.EventsStream: uint64(len(events)), pipeline.IngestStream: uint64(len(ingest))} {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().State.Msgs; got != want {
			t.Fatalf("legacy %s holds %d messages, want %d", stream, got, want)
		}
	}
}

func decoded(t *testing.T, raw string) *schemas.Event {
	t.Helper()
	e, err := schemas.Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return e
}
