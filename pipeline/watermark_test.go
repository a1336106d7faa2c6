package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/natsembed"
)

// jetStream starts an embedded JetStream server with Tally's topology and
// returns a client of it.
func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	js := bareJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ApplyTopology(ctx, js, TopologyConfig{}); err != nil {
		t.Fatal(err)
	}
	return js
}

// bareJetStream starts an embedded JetStream server with no streams and
// returns a client of it.
func bareJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func durable(t *testing.T, js jetstream.JetStream, stream, name string) jetstream.Consumer {
	t.Helper()
	c, err := js.CreateOrUpdateConsumer(context.Background(), stream, jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func publishN(t *testing.T, js jetstream.JetStream, subject string, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.Publish(context.Background(), subject, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// settle fetches n messages of c and acks them (double ack, as the runner
// does for the last of a batch); move republishes each to the events
// stream first, as the legacy ingest drain does.
func settle(t *testing.T, js jetstream.JetStream, c jetstream.Consumer, n int, move bool) {
	t.Helper()
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		if move {
			if _, err := js.Publish(context.Background(), EventsSubjectPrefix+"moved", m.Data()); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.DoubleAck(context.Background()); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != n {
		t.Fatalf("fetched %d messages, want %d", got, n)
	}
}

func TestBarrierWaitsForTheSinkOnBothPaths(t *testing.T) {
	js := jetStream(t)
	sink := durable(t, js, EventsStream, "sink")
	durable(t, js, IngestStream, "validator")
	w, err := NewWatermark(js, WatermarkConfig{Validator: "validator", Sink: "sink", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Nothing acknowledged yet: the barrier passes at once.
	if _, err := w.Barrier(ctx); err != nil {
		t.Fatalf("empty pipeline: %v", err)
	}

	// 5 events over HTTP, 3 over NATS: all of them in the events stream,
	// the one hop.
	publishN(t, js, EventsSubjectPrefix+"x", 5)
	publishN(t, js, IngestSubjectPrefix+"x", 3)
	_, err = w.Barrier(ctx)
	var behind *Behind
	if !errors.As(err, &behind) || !errors.Is(err, ErrBehind) {
		t.Fatalf("nothing settled: got %v, want a *Behind", err)
	}
	if behind.Unvalidated != 0 || behind.Unstored != 8 {
		t.Fatalf("nothing stored: behind %+v, want 8 unstored", behind)
	}

	// The sink stores 5 of the 8.
	settle(t, js, sink, 5, false)
	_, err = w.Barrier(ctx)
	if !errors.As(err, &behind) || behind.Unstored != 3 || behind.Unvalidated != 0 {
		t.Fatalf("5 of 8 stored: got %v (%+v), want 3 unstored", err, behind)
	}
	p, err := w.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Progress{Events: StreamProgress{Last: 8, Through: 5, Pending: 3}}
	if p != want {
		t.Fatalf("progress %+v, want %+v", p, want)
	}

	// The sink stores the rest while a barrier waits: it returns then.
	done := make(chan error, 1)
	w.cfg.Timeout = 10 * time.Second
	go func() {
		_, err := w.Barrier(ctx)
		done <- err
	}()
	settle(t, js, sink, 3, false)
	if err := <-done; err != nil {
		t.Fatalf("everything stored: %v", err)
	}
	p, err = w.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.Events = StreamProgress{Last: 8, Through: 8}
	if p != want {
		t.Fatalf("progress %+v, want %+v", p, want)
	}
}

// TestBarrierWaitsForEventsLeftInTheLegacyIngestStream: a version before
// the single hop acknowledged NATS events into the ingest stream; after the
// upgrade they wait there for the drain. The barrier must not look at the
// events stream before they are in it: it would find nothing to wait for.
func TestBarrierWaitsForEventsLeftInTheLegacyIngestStream(t *testing.T) {
	js := jetStream(t)
	sink := durable(t, js, EventsStream, "sink")
	drain := durable(t, js, IngestStream, "validator")
	w, err := NewWatermark(js, WatermarkConfig{Validator: "validator", Sink: "sink", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, js, LegacyIngestSubject, 2)
	done := make(chan error, 1)
	go func() {
		_, err := w.Barrier(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("barrier returned (%v) before the drain moved the legacy events", err)
	case <-time.After(200 * time.Millisecond):
	}
	settle(t, js, drain, 2, true)
	select {
	case err := <-done:
		t.Fatalf("barrier returned (%v) before the sink stored the moved events", err)
	case <-time.After(200 * time.Millisecond):
	}
	settle(t, js, sink, 2, false)
	if err := <-done; err != nil {
		t.Fatalf("both stored: %v", err)
	}
}

func TestNewWatermarkNeedsItsConsumers(t *testing.T) {
	if _, err := NewWatermark(nil, WatermarkConfig{Validator: "v", Sink: "s"}); err == nil {
		t.Error("no JetStream: want an error")
	}
	if _, err := NewWatermark(jetStream(t), WatermarkConfig{Validator: "v"}); err == nil {
		t.Error("no sink consumer name: want an error")
	}
}
