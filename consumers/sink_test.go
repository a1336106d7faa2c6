package consumers

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tally-billing/tally/schemas"
)

// memStore is an EventStore in memory, for the handler's decisions only;
// the ClickHouse store is tested end to end in e2e/.
type memStore struct {
	hashes  map[schemas.Identity][16]byte
	inserts [][]EventRow
	tokens  []string
	failIns error
}

func (m *memStore) ContentHashes(_ context.Context, ids []schemas.Identity) (map[schemas.Identity][16]byte, error) {
	out := map[schemas.Identity][16]byte{}
	for _, id := range ids {
		if h, ok := m.hashes[id]; ok {
			out[id] = h
		}
	}
	return out, nil
}

func (m *memStore) InsertEvents(_ context.Context, evs []EventRow, token string) error {
	if m.failIns != nil {
		return m.failIns
	}
	for _, e := range evs {
		m.hashes[e.Event.Identity()] = e.Hash
	}
	m.inserts = append(m.inserts, evs)
	m.tokens = append(m.tokens, token)
	return nil
}

func creditMsg(seq uint64, id, credits string) *Message {
	data := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-02T00:00:00Z","data":{"credits":%q,"feature":"tutor"}}`, id, credits)
	return &Message{Stream: "TALLY_EVENTS", StreamSeq: seq, Data: []byte(data)}
}

func TestEventSinkDecisions(t *testing.T) {
	store := &memStore{hashes: map[schemas.Identity][16]byte{}}
	h := EventSink(store, nil, nil)
	ctx := context.Background()

	first := []*Message{creditMsg(1, "a", "1"), creditMsg(2, "b", "2"), creditMsg(3, "a", "1"), creditMsg(4, "b", "9"),
		{Stream: "TALLY_EVENTS", StreamSeq: 5, Data: []byte(`{"not":"an event"}`)}}
	if err := h(ctx, first); err != nil {
		t.Fatal(err)
	}
	if len(store.inserts) != 1 || len(store.inserts[0]) != 2 {
		t.Fatalf("inserts %v, want one insert of a and b", store.inserts)
	}
	if first[2].Rejected() != nil {
		t.Errorf("an identical repeat in the batch is a duplicate, not a rejection: %v", first[2].Rejected())
	}
	if !errors.Is(first[3].Rejected(), ErrConflict) {
		t.Errorf("b with other content: %v, want a conflict", first[3].Rejected())
	}
	if !errors.Is(first[4].Rejected(), ErrUndecodable) {
		t.Errorf("garbage: %v, want undecodable", first[4].Rejected())
	}

	// The same batch again (a redelivery after a crash before the ack):
	// nothing is inserted, the decisions stay the same.
	if err := h(ctx, first); err != nil {
		t.Fatal(err)
	}
	if len(store.inserts) != 1 {
		t.Fatalf("a redelivered batch was inserted again: %d inserts", len(store.inserts))
	}
	if !errors.Is(first[3].Rejected(), ErrConflict) || first[0].Rejected() != nil {
		t.Fatal("decisions changed on redelivery")
	}

	// Later: a known identity with other content is a conflict, a new one
	// is stored; the token differs from the first insert's.
	later := []*Message{creditMsg(10, "a", "5"), creditMsg(11, "c", "3")}
	if err := h(ctx, later); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(later[0].Rejected(), ErrConflict) || later[1].Rejected() != nil {
		t.Fatalf("later batch decisions: %v, %v", later[0].Rejected(), later[1].Rejected())
	}
	if len(store.inserts) != 2 || len(store.inserts[1]) != 1 || store.tokens[0] == store.tokens[1] {
		t.Fatalf("inserts %d, tokens %q", len(store.inserts), store.tokens)
	}
}

func TestEventSinkInsertFailureIsRetryable(t *testing.T) {
	store := &memStore{hashes: map[schemas.Identity][16]byte{}, failIns: errors.New("clickhouse down")}
	err := EventSink(store, nil, nil)(context.Background(), []*Message{creditMsg(1, "a", "1")})
	if err == nil || IsPermanent(err) {
		t.Fatalf("err %v, want a retryable error", err)
	}
}
