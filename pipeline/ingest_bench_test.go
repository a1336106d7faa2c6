package pipeline

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackingJS is the part of JetStream a Publisher uses, acknowledging every
// message at once: the ingest handler's own cost, without a server.
type ackingJS struct {
	jetstream.JetStream
	seq uint64
}

type ackedFuture struct {
	msg *nats.Msg
	ok  chan *jetstream.PubAck
}

func (f ackedFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f ackedFuture) Err() <-chan error            { return nil }
func (f ackedFuture) Msg() *nats.Msg               { return f.msg }

func (j *ackingJS) PublishMsgAsync(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	j.seq++
	ok := make(chan *jetstream.PubAck, 1)
	ok <- &jetstream.PubAck{Stream: EventsStream, Sequence: j.seq}
	return ackedFuture{msg: m, ok: ok}, nil
}

// BenchmarkIngestBatch posts a batch of 1,000 events, as the bench's HTTP
// phase does, to the ingest handler: validation, message ids, publishing.
func BenchmarkIngestBatch(b *testing.B) {
	now := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	var body bytes.Buffer
	body.WriteByte('[')
	for i := range 1000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"specversion":"1.0","id":"e-%d","source":"bench","type":"ai.credits.consumed","subject":"tenant-%d","time":"2026-11-02T07:00:00Z","data":{"credits":"1.5","feature":"tutor"}}`, i, i%100)
	}
	body.WriteByte(']')
	pub, err := NewPublisher(&ackingJS{}, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewIngestHandler(IngestConfig{Publisher: pub, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body.Bytes()))
		req.Header.Set("Content-Type", ContentTypeBatch)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
