package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
)

// rowStore keeps inserted rows in memory: the sink's decisions only (the
// ClickHouse store is tested end to end in e2e/).
type rowStore struct{ rows []consumers.EventRow }

func (s *rowStore) ContentHashes(context.Context, []schemas.Identity) (map[schemas.Identity][16]byte, error) {
	out := map[schemas.Identity][16]byte{}
	for _, r := range s.rows {
		out[r.Event.Identity()] = r.Hash
	}
	return out, nil
}

func (s *rowStore) InsertEvents(_ context.Context, rows []consumers.EventRow, _ string) error {
	s.rows = append(s.rows, rows...)
	return nil
}

func sinkMsg(subject string, seq uint64, id, credits string, stored time.Time) *consumers.Message {
	data := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"s","type":"ai.credits.consumed","subject":"t","time":%q,"data":{"credits":%q,"feature":"tutor"}}`,
		id, stored.Format(time.RFC3339), credits)
	return &consumers.Message{Subject: subject, Stream: EventsStream, StreamSeq: seq, Data: []byte(data), Timestamp: stored}
}

// TestSinkValidatesEmittersEventsInline: in the one hop, an emitter's
// event is checked by the sink (the schemas, the time it was stored, the
// extra check) and an invalid one is rejected with its field error, while
// an HTTP event (validated before it was published) is only decoded.
func TestSinkValidatesEmittersEventsInline(t *testing.T) {
	now := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	errNoTutor := &schemas.FieldError{Field: "data.feature", Message: "refused by the test", Err: schemas.ErrInvalidValue}
	check := func(e *schemas.Event) error {
		if e.ID == "refused" || e.ID == "http-refused" {
			return errNoTutor
		}
		return nil
	}
	store := &rowStore{}
	im := NewIngestMetrics(prometheus.NewRegistry())
	h := Sink(store, nil, im, check)
	ahead := sinkMsg("tally.ingest.events", 4, "ahead", "1", now)
	ahead.Timestamp = now.Add(-time.Hour) // stored an hour before its time
	batch := []*consumers.Message{
		sinkMsg("tally.ingest.events", 1, "ok", "1", now),
		sinkMsg("tally.ingest.events", 2, "bad", "-1", now),
		sinkMsg("tally.ingest.events", 3, "refused", "1", now),
		ahead,
		sinkMsg(EventsSubjectPrefix+"ai.credits.consumed", 5, "http-refused", "1", now),
		{Subject: EventsSubjectPrefix + "x", Stream: EventsStream, StreamSeq: 6, Data: []byte("{")},
	}
	if err := h(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var stored []uint64
	for _, r := range store.rows {
		stored = append(stored, r.StreamSeq)
	}
	if fmt.Sprint(stored) != "[1 5]" {
		t.Fatalf("stored sequences %v, want [1 5]", stored)
	}
	var fe *schemas.FieldError
	if err := batch[1].Rejected(); !errors.As(err, &fe) || fe.Field != "data.credits" {
		t.Errorf("negative credits: rejected with %v, want a field error on data.credits", err)
	}
	if err := batch[2].Rejected(); !errors.Is(err, errNoTutor) {
		t.Errorf("refused by the check: rejected with %v", err)
	}
	if err := batch[3].Rejected(); !errors.As(err, &fe) || fe.Field != "time" {
		t.Errorf("an hour ahead of the time it was stored: rejected with %v, want a field error on time", err)
	}
	if err := batch[5].Rejected(); !errors.Is(err, consumers.ErrUndecodable) {
		t.Errorf("undecodable HTTP message: rejected with %v, want ErrUndecodable", err)
	}
	if a, r := counted(t, im.Accepted), counted(t, im.Rejected); a != 1 || r != 3 {
		t.Errorf("nats ingest counted %v accepted and %v rejected, want 1 and 3", a, r)
	}
}

func counted(t *testing.T, v *prometheus.CounterVec) float64 {
	t.Helper()
	var m dto.Metric
	if err := v.WithLabelValues("nats").Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
