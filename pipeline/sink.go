package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
)

// FromEmitter reports whether m came from a NATS emitter (its subject is
// under IngestSubjectPrefix) rather than from the HTTP ingest, which
// publishes only events it has validated.
func FromEmitter(m *consumers.Message) bool {
	return strings.HasPrefix(m.Subject, IngestSubjectPrefix)
}

// SinkDecode returns the sink's decoder: it decodes every message once. A
// message from a NATS emitter is checked like an HTTP event (schemas, the
// future-time limit against the time the stream stored it, so a backlog
// does not turn into rejections, and check when not nil); the reason of a
// refusal is the error itself, so the dead letter names the field. A
// message from the HTTP ingest was checked before it was published and is
// only decoded.
func SinkDecode(check Check) consumers.Decode {
	return func(m *consumers.Message) (*schemas.Event, error) {
		if FromEmitter(m) {
			e, err := ValidateEvent(m.Data, m.Timestamp, check)
			if err != nil {
				return nil, err
			}
			return e, nil
		}
		return consumers.DecodeStored(m)
	}
}

// Sink returns the handler of the events stream's durable consumer: the
// single hop of both ingest paths. It validates NATS emitters' events
// inline and stores every valid event exactly once (consumers.EventSink);
// invalid ones are rejected with the reason and so dead-lettered by the
// DeadLetter middleware. Once a batch is settled it counts the NATS
// emitters' events as accepted or rejected at ingest (the HTTP ingest
// counts its own).
func Sink(store consumers.EventStore, sm *consumers.SinkMetrics, ingested *IngestMetrics, check Check) consumers.Handler {
	h := consumers.EventSink(store, sm, SinkDecode(check))
	return func(ctx context.Context, batch []*consumers.Message) error {
		if err := h(ctx, batch); err != nil {
			return err
		}
		if ingested == nil {
			return nil
		}
		accepted, rejected := 0, 0
		for _, m := range batch {
			switch {
			case !FromEmitter(m):
			case m.Rejected() != nil:
				rejected++
			default:
				accepted++
			}
		}
		ingested.Accepted.WithLabelValues("nats").Add(float64(accepted))
		ingested.Rejected.WithLabelValues("nats").Add(float64(rejected))
		return nil
	}
}

// DrainLegacyIngest returns the handler of the legacy ingest stream's
// durable consumer: it moves the raw events that a version before the
// single hop left in the ingest stream to the events stream, byte for
// byte, on their original subject (under tally.ingest., so the sink
// validates them as NATS events), and they are acknowledged (and so
// removed from the work queue) only once JetStream has stored them again.
// The copy keeps the emitter's message id, or takes one from the ingest
// sequence, so a copy repeated after a crash is a JetStream duplicate (and
// past the window an identity the sink finds stored).
func DrainLegacyIngest(pub *Publisher) consumers.Handler {
	return func(ctx context.Context, batch []*consumers.Message) error {
		msgs := make([]*nats.Msg, len(batch))
		for i, m := range batch {
			out := nats.NewMsg(m.Subject)
			if !strings.HasPrefix(m.Subject, IngestSubjectPrefix) {
				out.Subject = IngestSubjectPrefix + "legacy"
			}
			out.Data = m.Data
			id := m.Header.Get(jetstream.MsgIDHeader)
			if id == "" {
				id = "ingest:" + strconv.FormatUint(m.StreamSeq, 10)
			}
			out.Header.Set(jetstream.MsgIDHeader, id)
			msgs[i] = out
		}
		if _, err := pub.Publish(ctx, msgs); err != nil {
			return fmt.Errorf("moving legacy ingest events to the events stream: %w", err)
		}
		return nil
	}
}
