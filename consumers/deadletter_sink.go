package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Headers a dead-letter message carries (set by the dead-letter publisher).
const (
	HeaderReason       = "Tally-Reason"
	HeaderField        = "Tally-Field"
	HeaderOriginStream = "Tally-Origin-Stream"
	HeaderOriginSeq    = "Tally-Origin-Seq"
	HeaderOriginSubj   = "Tally-Origin-Subject"
)

// DeadLetterRecord is one entry of the dead-letter store.
type DeadLetterRecord struct {
	Seq           uint64 // sequence in the dead-letter stream
	OriginStream  string
	OriginSeq     uint64
	OriginSubject string
	Source        string // best effort: from the payload, when it parses
	ID            string
	Type          string
	Field         string
	Reason        string
	Payload       []byte
	DeadAt        time.Time
}

// DeadLetterStore keeps dead letters where finance and operators can query
// them (ClickHouse in production).
type DeadLetterStore interface {
	// InsertDeadLetters stores entries in one insert; the same token with
	// the same entries stores them once.
	InsertDeadLetters(ctx context.Context, entries []DeadLetterRecord, token string) error
}

// DeadLetterSink returns the handler that copies the dead-letter stream
// into store.
func DeadLetterSink(store DeadLetterStore) Handler {
	return func(ctx context.Context, batch []*Message) error {
		entries := make([]DeadLetterRecord, len(batch))
		seqs := make([]uint64, len(batch))
		for i, m := range batch {
			entries[i] = deadLetterOf(m)
			seqs[i] = m.StreamSeq
		}
		if err := store.InsertDeadLetters(ctx, entries, SeqToken("deadletters", seqs)); err != nil {
			return fmt.Errorf("inserting dead letters: %w", err)
		}
		return nil
	}
}

func deadLetterOf(m *Message) DeadLetterRecord {
	d := DeadLetterRecord{
		Seq:           m.StreamSeq,
		OriginStream:  m.Header.Get(HeaderOriginStream),
		OriginSubject: m.Header.Get(HeaderOriginSubj),
		Field:         m.Header.Get(HeaderField),
		Reason:        m.Header.Get(HeaderReason),
		Payload:       m.Data,
		DeadAt:        m.Timestamp,
	}
	d.OriginSeq, _ = strconv.ParseUint(m.Header.Get(HeaderOriginSeq), 10, 64)
	var probe struct {
		Source any `json:"source"`
		ID     any `json:"id"`
		Type   any `json:"type"`
	}
	if json.Unmarshal(m.Data, &probe) == nil {
		d.Source, _ = probe.Source.(string)
		d.ID, _ = probe.ID.(string)
		d.Type, _ = probe.Type.(string)
	}
	return d
}
