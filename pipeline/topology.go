package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/schemas"
)

// Stream and subject names. Every event is stored once, in EventsStream:
// the HTTP ingest publishes validated events on EventsSubjectPrefix + event
// type (for example tally.events.ai.credits.consumed); NATS emitters publish
// raw events on IngestSubjectPrefix + anything, which the events stream
// holds too, and the sink validates those itself. Dead letters are
// published on DeadLetterSubjectPrefix + origin.
//
// IngestStream is the stream where versions before the single hop kept raw
// NATS events until a validator moved them to the events stream. It only
// holds what such a version left behind: its subjects moved to the events
// stream, and the drain consumer (DrainLegacyIngest) moves its messages
// into the events stream, where the sink validates them like any NATS event.
const (
	EventsStream            = "TALLY_EVENTS"
	EventsSubjectPrefix     = "tally.events."
	IngestSubjectPrefix     = "tally.ingest."
	IngestStream            = "TALLY_INGEST"
	LegacyIngestSubject     = "tally.legacy.ingest"
	DeadLetterStream        = "TALLY_DLQ"
	DeadLetterSubjectPrefix = "tally.dlq."
)

// EventSubject is the subject an event of type t is stored under.
func EventSubject(t schemas.Type) string {
	if s, ok := eventSubjects[t]; ok {
		return s
	}
	return EventsSubjectPrefix + string(t)
}

// eventSubjects holds the subject of every known type, built once: ingest
// asks for one per event.
var eventSubjects = func() map[schemas.Type]string {
	m := make(map[schemas.Type]string)
	for _, t := range schemas.Types() {
		m[t] = EventsSubjectPrefix + string(t)
	}
	return m
}()

// TopologyConfig sets the limits of the streams. The zero value is usable:
// Apply fills in the defaults documented on each field.
type TopologyConfig struct {
	// Replicas of every stream: 1 on a single server, 3 on a cluster.
	Replicas int
	// DedupWindow is JetStream's duplicate window on the events stream
	// (default 2m). Duplicates older than the window are caught by
	// the ClickHouse identity table, so the window only needs to cover
	// client retries. JetStream keeps every message id of the window in
	// memory: about 120 bytes an event, so at 20,000 events/s a 2-minute
	// window holds ~290 MB (docs/performance.md).
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
	// The legacy ingest stream comes first: ApplyTopology moves its
	// subjects away before the events stream takes them.
	return []jetstream.StreamConfig{
		{
			Name:        IngestStream,
			Description: "Raw NATS events left by a version before the single hop, moved to the events stream by the drain consumer; nothing new arrives here.",
			Subjects:    []string{LegacyIngestSubject},
			Retention:   jetstream.WorkQueuePolicy,
			Discard:     jetstream.DiscardNew,
			MaxAge:      c.EventsMaxAge,
			MaxMsgSize:  1 << 20,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.DedupWindow,
		},
		{
			Name:        EventsStream,
			Description: "Usage events, one message per event, message id from (source, id): validated ones from HTTP ingest (tally.events.<type>), raw ones from NATS emitters (tally.ingest.>), validated by the sink.",
			Subjects:    []string{EventsSubjectPrefix + ">", IngestSubjectPrefix + ">"},
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
//
// On a JetStream store of a version before the single hop, the ingest
// stream holds tally.ingest.> and may still hold raw events: updating it
// first moves it to LegacyIngestSubject (its messages stay, for the drain
// consumer), which frees tally.ingest.> for the events stream. The update
// is one stream edit, so an emitter publishing at that moment gets "no
// responders" for a few milliseconds and retries.
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
