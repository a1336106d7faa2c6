package webhooks

import (
	"context"
	"net/http"
	"time"
)

// EndpointStore keeps endpoints. Every change saves a new version of the
// endpoint (a higher Version); reads return the latest version of each.
type EndpointStore interface {
	// SaveEndpoint stores a version of an endpoint.
	SaveEndpoint(ctx context.Context, e Endpoint) error
	// Endpoints returns the latest version of every endpoint not deleted.
	Endpoints(ctx context.Context) ([]Endpoint, error)
	// Endpoint returns the latest version of one endpoint; false when it
	// was never saved or is deleted.
	Endpoint(ctx context.Context, id string) (Endpoint, bool, error)
}

// MessageLog keeps every message generated, by id: the generator skips
// the facts it holds already, and a manual retry reads a message back.
type MessageLog interface {
	// KnownMessages returns which of ids are stored.
	KnownMessages(ctx context.Context, ids []string) (map[string]bool, error)
	// SaveMessages stores messages; saving one twice keeps one.
	SaveMessages(ctx context.Context, ms []Message) error
	// Message reads one message back; false when unknown.
	Message(ctx context.Context, id string) (Message, bool, error)
}

// DeliveryLog records every attempt of every delivery.
type DeliveryLog interface {
	// RecordAttempt appends one attempt.
	RecordAttempt(ctx context.Context, a Attempt) error
	// Attempts returns the attempts matching f, newest first.
	Attempts(ctx context.Context, f AttemptFilter) ([]Attempt, error)
	// FailingSince returns the time of an endpoint's first failed attempt
	// after its last successful one; zero when its last attempt succeeded
	// or it has none.
	FailingSince(ctx context.Context, endpointID string) (time.Time, error)
}

// MessageQueue carries messages durably to the fan-out, and deliveries
// to the delivery workers (webhooks/jsqueue on JetStream).
type MessageQueue interface {
	// PublishMessages stores messages durably, deduplicated by their id;
	// it returns once every one is stored.
	PublishMessages(ctx context.Context, ms []Message) error
	// EnqueueDeliveries stores deliveries durably, deduplicated by dedup(t).
	EnqueueDeliveries(ctx context.Context, ts []Task, dedup func(Task) string) error
}

// Doer sends one HTTP request. webhttp.Client refuses internal
// addresses after DNS resolution and never follows redirects; the
// caller bounds the request with its context.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Clock is the time; time.Now is one.
type Clock func() time.Time
