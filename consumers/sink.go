package consumers

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-billing/tally/schemas"
)

// EventRow is what the sink inserts for an event: the event, its content
// hash and the events-stream sequence it was delivered at.
type EventRow struct {
	Event     *schemas.Event
	Hash      [16]byte
	StreamSeq uint64
}

// EventStore is the durable home of events (ClickHouse in production).
type EventStore interface {
	// ContentHashes returns, for every identity among ids that is already
	// stored, the content hash of the stored event. It must see every
	// insert that returned before it was called.
	ContentHashes(ctx context.Context, ids []schemas.Identity) (map[schemas.Identity][16]byte, error)
	// InsertEvents stores events in one insert. Calling it again with the
	// same token and the same events stores them once.
	InsertEvents(ctx context.Context, events []EventRow, token string) error
}

// SinkMetrics count what the event sink decided for each message.
type SinkMetrics struct {
	Stored     prometheus.Counter
	Duplicates prometheus.Counter
	Conflicts  prometheus.Counter
}

// NewSinkMetrics registers the sink metrics with reg.
func NewSinkMetrics(reg prometheus.Registerer) *SinkMetrics {
	m := &SinkMetrics{
		Stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_sink_stored_total", Help: "Events stored in ClickHouse.",
		}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_sink_duplicates_total", Help: "Events already stored with the same content (counted once).",
		}),
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_sink_conflicts_total", Help: "Events whose identity is stored with other content (dead-lettered).",
		}),
	}
	reg.MustRegister(m.Stored, m.Duplicates, m.Conflicts)
	return m
}

// Decode turns a stream message into the event it carries, or returns why
// the message is rejected (it is then dead-lettered with that reason).
type Decode func(m *Message) (*schemas.Event, error)

// DecodeStored decodes a message's event; an undecodable one is
// ErrUndecodable.
func DecodeStored(m *Message) (*schemas.Event, error) {
	ev, err := schemas.Decode(m.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	return ev, nil
}

// EventSink returns the handler that stores events exactly once. decode
// (DecodeStored when nil) is called once per message: the events it
// returns are the ones the rest works on.
//
// For each batch, in this order: decode every message (a rejected one
// is dead-lettered); keep the first message of each identity in the batch; ask
// the store which identities it already holds; reject those held with other
// content as conflicts and skip those held with the same content as
// duplicates; insert the rest in one insert whose deduplication token is
// derived from their stream sequences. Every step can be repeated: after a
// crash the redelivered batch finds its events already stored and only
// acknowledges them.
func EventSink(store EventStore, m *SinkMetrics, decode Decode) Handler {
	if m == nil {
		m = NewSinkMetrics(prometheus.NewRegistry())
	}
	if decode == nil {
		decode = DecodeStored
	}
	return func(ctx context.Context, batch []*Message) error {
		type candidate struct {
			msg  *Message
			ev   *schemas.Event
			hash [16]byte
		}
		cands := make([]candidate, 0, len(batch))
		first := make(map[schemas.Identity]int, len(batch))
		dups, conflicts := 0, 0
		for _, msg := range batch {
			msg.rejected = nil
			ev, err := decode(msg)
			if err != nil {
				msg.Reject(err)
				continue
			}
			c := candidate{msg: msg, ev: ev, hash: ev.ContentHash()}
			if j, ok := first[ev.Identity()]; ok {
				if cands[j].hash == c.hash {
					dups++
				} else {
					conflicts++
					msg.Reject(conflictError(ev.Identity(), cands[j].msg.StreamSeq))
				}
				continue
			}
			first[ev.Identity()] = len(cands)
			cands = append(cands, c)
		}
		if len(cands) == 0 {
			return nil
		}

		ids := make([]schemas.Identity, len(cands))
		for i, c := range cands {
			ids[i] = c.ev.Identity()
		}
		stored, err := store.ContentHashes(ctx, ids)
		if err != nil {
			return fmt.Errorf("looking up stored identities: %w", err)
		}
		fresh := make([]EventRow, 0, len(cands))
		for _, c := range cands {
			h, ok := stored[c.ev.Identity()]
			switch {
			case !ok:
				fresh = append(fresh, EventRow{Event: c.ev, Hash: c.hash, StreamSeq: c.msg.StreamSeq})
			case h == c.hash:
				dups++
			default:
				conflicts++
				c.msg.Reject(conflictError(c.ev.Identity(), 0))
			}
		}
		if len(fresh) > 0 {
			if err := store.InsertEvents(ctx, fresh, InsertToken("events", fresh)); err != nil {
				return fmt.Errorf("inserting batch: %w", err)
			}
		}
		m.Stored.Add(float64(len(fresh)))
		m.Duplicates.Add(float64(dups))
		m.Conflicts.Add(float64(conflicts))
		return nil
	}
}

func conflictError(id schemas.Identity, firstSeq uint64) error {
	if firstSeq > 0 {
		return fmt.Errorf("%w: (source %q, id %q) differs from the event at stream sequence %d; the first one wins",
			ErrConflict, id.Source, id.ID, firstSeq)
	}
	return fmt.Errorf("%w: (source %q, id %q) is already stored with other content; the first one wins",
		ErrConflict, id.Source, id.ID)
}

// InsertToken derives a ClickHouse insert_deduplication_token from the
// stream sequences of the rows: the range plus a hash of every sequence, so
// the same rows always give the same token and other rows another one.
func InsertToken(kind string, events []EventRow) string {
	seqs := make([]uint64, len(events))
	for i, e := range events {
		seqs[i] = e.StreamSeq
	}
	return SeqToken(kind, seqs)
}

// SeqToken is InsertToken over bare sequence numbers.
func SeqToken(kind string, seqs []uint64) string {
	if len(seqs) == 0 {
		return kind + ":empty"
	}
	h := fnv.New64a()
	var buf [8]byte
	lo, hi := seqs[0], seqs[0]
	for _, s := range seqs {
		lo, hi = min(lo, s), max(hi, s)
		binary.BigEndian.PutUint64(buf[:], s)
		h.Write(buf[:])
	}
	return fmt.Sprintf("%s:%d-%d:%d:%s", kind, lo, hi, len(seqs), hex.EncodeToString(h.Sum(nil)))
}
