package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/consumers"
)

// legacyStreams are the events and ingest streams of the versions before
// the single hop, as they find them in a JetStream store.
var legacyStreams = []jetstream.StreamConfig{
	{Name: EventsStream, Subjects: []string{"tally.events.>"}, Retention: jetstream.LimitsPolicy,
		Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute},
	{Name: IngestStream, Subjects: []string{"tally.ingest.>"}, Retention: jetstream.WorkQueuePolicy,
		Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute},
}

// TestApplyTopologyUpgradesTheTwoHopStore applies the topology to a store
// of a version before the single hop with raw events still in its ingest
// stream: they stay there (for the drain), the ingest subjects move to the
// events stream, and the drain copies them there once, keeping their
// message ids.
func TestApplyTopologyUpgradesTheTwoHopStore(t *testing.T) {
	ctx := context.Background()
	js := bareJetStream(t)
	for _, sc := range legacyStreams {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(subject, id, data string) *jetstream.PubAck {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = []byte(data)
		if id != "" {
			m.Header.Set(jetstream.MsgIDHeader, id)
		}
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	publish("tally.events.x", "e1", "validated")
	if ack := publish("tally.ingest.events", "n1", "raw-1"); ack.Stream != IngestStream {
		t.Fatalf("the legacy store put an emitter's event in %s", ack.Stream)
	}
	publish("tally.ingest.events", "", "raw-2")

	if err := ApplyTopology(ctx, js, TopologyConfig{}); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	if err := ApplyTopology(ctx, js, TopologyConfig{}); err != nil {
		t.Fatalf("applying again: %v", err)
	}
	ingest, err := js.Stream(ctx, IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	if info := ingest.CachedInfo(); info.State.Msgs != 2 || !slices.Equal(info.Config.Subjects, []string{LegacyIngestSubject}) {
		t.Fatalf("legacy ingest stream after the upgrade: %d messages on %v, want its 2 on %s",
			info.State.Msgs, info.Config.Subjects, LegacyIngestSubject)
	}
	if ack := publish("tally.ingest.events", "n2", "raw-3"); ack.Stream != EventsStream || ack.Sequence != 2 {
		t.Fatalf("an emitter's event went to %s #%d, want %s #2", ack.Stream, ack.Sequence, EventsStream)
	}

	pub, err := NewPublisher(js, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var batch []*consumers.Message
	for seq := uint64(1); seq <= 2; seq++ {
		raw, err := ingest.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &consumers.Message{Subject: raw.Subject, Data: raw.Data, Header: raw.Header,
			Stream: IngestStream, StreamSeq: raw.Sequence})
	}
	drain := DrainLegacyIngest(pub)
	for range 2 { // again, as after a crash before the acks
		if err := drain(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	events, err := js.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := events.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Fatalf("%d messages in the events stream, want 4 (1 validated, 1 new, 2 moved once)", info.State.Msgs)
	}
	for seq, want := range map[uint64][2]string{3: {"raw-1", "n1"}, 4: {"raw-2", "ingest:2"}} {
		m, err := events.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != want[0] || m.Subject != "tally.ingest.events" || m.Header.Get(jetstream.MsgIDHeader) != want[1] {
			t.Fatalf("moved #%d: %s %q id %q, want %q on tally.ingest.events with id %q",
				seq, m.Subject, m.Data, m.Header.Get(jetstream.MsgIDHeader), want[0], want[1])
		}
	}
}
