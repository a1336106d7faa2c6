package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/schemas"
)

// Stream and subject names. Events are published on EventsSubjectPrefix +
// event type (for example tally.events.ai.credits.consumed); raw events from
// NATS emitters arrive on IngestSubjectPrefix + anything; dead letters are
// published on DeadLetterSubjectPrefix + origin.
const (
	EventsStream            = "TALLY_EVENTS"
	EventsSubjectPrefix     = "tally.events."
	IngestStream            = "TALLY_INGEST"
	IngestSubjectPrefix     = "tally.ingest."
	DeadLetterStream        = "TALLY_DLQ"
	DeadLetterSubjectPrefix = "tally.dlq."
)

// EventSubject is the subject an event of type t is stored under.
func EventSubject(t schemas.Type) string { return EventsSubjectPrefix + string(t) }

// TopologyConfig sets the limits of the streams. The zero value is usable:
// Apply fills in the defaults documented on each field.
type TopologyConfig struct {
	// Replicas of every stream: 1 on a single server, 3 on a cluster.
	Replicas int
	// DedupWindow is JetStream's duplicate window on the events and ingest
	// streams (default 2m). Duplicates older than the window are caught by
	// the ClickHouse identity table, so the window only needs to cover
	// client retries. JetStream keeps every message id of the window in
	// memory: about 120 bytes an event per stream, so at 20,000 events/s a
	// 2-minute window holds ~290 MB per stream (docs/performance.md).
	DedupWindow time.Duration
	// EventsMaxAge keeps events in the stream for replay (default 30 days).
	// The sink must never lag more than this: watch tally_consumer_pending.
	EventsMaxAge time.Duration
	// EventsMaxBytes caps the events stream (default unlimited, bounded by
	// the JetStream store). When full, publishes fail and ingest answers 503:
	// the stream discards new messages, never old unconsumed ones.
	EventsMaxBytes int64
	// DeadLetterMaxAge keeps dead letters (default 90 days); they are also
	// copied into ClickHouse.
	DeadLetterMaxAge time.Duration
}

// DefaultDedupWindow is the duplicate window unless configured: JetStream's
// own default, long enough for a client's retries.
const DefaultDedupWindow = 2 * time.Minute

func (c *TopologyConfig) setDefaults() {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.EventsMaxAge == 0 {
		c.EventsMaxAge = 30 * 24 * time.Hour
	}
	if c.EventsMaxBytes == 0 {
		c.EventsMaxBytes = -1
	}
	if c.DeadLetterMaxAge == 0 {
		c.DeadLetterMaxAge = 90 * 24 * time.Hour
	}
}

// Validate reports limits that cannot work.
func (c TopologyConfig) Validate() error {
	c.setDefaults()
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("topology: replicas must be 1..5, got %d", c.Replicas)
	}
	if c.DedupWindow > c.EventsMaxAge {
		return errors.New("topology: dedup window longer than the events max age")
	}
	return nil
}

// Streams returns the stream configurations of the topology.
func (c TopologyConfig) Streams() []jetstream.StreamConfig {
	c.setDefaults()
	return []jetstream.StreamConfig{
		{
			Name:        EventsStream,
			Description: "Validated usage events, one message per event, message id from (source, id).",
			Subjects:    []string{EventsSubjectPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			MaxAge:      c.EventsMaxAge,
			MaxBytes:    c.EventsMaxBytes,
			MaxMsgSize:  1 << 20,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.DedupWindow,
		},
		{
			Name:        IngestStream,
			Description: "Raw events published by NATS emitters, awaiting validation.",
			Subjects:    []string{IngestSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Discard:     jetstream.DiscardNew,
			MaxAge:      c.EventsMaxAge,
			MaxMsgSize:  1 << 20,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.DedupWindow,
		},
		{
			Name:        DeadLetterStream,
			Description: "Rejected events and conflicting duplicates, with the reason in headers.",
			Subjects:    []string{DeadLetterSubjectPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      c.DeadLetterMaxAge,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.DedupWindow,
		},
	}
}

// ApplyTopology creates or updates every stream. It is safe to call from
// every replica at every start.
func ApplyTopology(ctx context.Context, js jetstream.JetStream, cfg TopologyConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, sc := range cfg.Streams() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("applying stream %s: %w", sc.Name, err)
		}
	}
	return nil
}
