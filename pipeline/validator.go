package pipeline

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/tally-billing/tally/consumers"
)

// Validator returns the handler of the NATS ingest path: every raw event
// published on the ingest stream is checked like an HTTP event; a valid one
// is published to the events stream (its message id comes from its
// identity, so a redelivery is a JetStream duplicate), an invalid one is
// rejected with the reason and so dead-lettered by the DeadLetter
// middleware. The future-time check uses the time the ingest stream stored
// the message, so a backlog does not turn into rejections.
func Validator(pub *Publisher, ingested *IngestMetrics, check Check) consumers.Handler {
	return func(ctx context.Context, batch []*consumers.Message) error {
		msgs := make([]*nats.Msg, 0, len(batch))
		rejected := 0
		for _, m := range batch {
			m.Reject(nil)
			e, err := ValidateEvent(m.Data, m.Timestamp, check)
			if err != nil {
				m.Reject(err)
				rejected++
				continue
			}
			msgs = append(msgs, EventMsg(e))
		}
		dups := 0
		if len(msgs) > 0 {
			var err error
			dups, err = pub.Publish(ctx, msgs)
			if err != nil {
				return fmt.Errorf("moving events to the events stream: %w", err)
			}
		}
		if ingested != nil {
			ingested.Accepted.WithLabelValues("nats").Add(float64(len(msgs) - dups))
			ingested.Duplicates.WithLabelValues("nats").Add(float64(dups))
			ingested.Rejected.WithLabelValues("nats").Add(float64(rejected))
		}
		return nil
	}
}
