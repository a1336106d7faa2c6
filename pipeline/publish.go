package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/schemas"
)

// Publisher stores validated events in the events stream and waits for
// JetStream to acknowledge each one.
type Publisher struct {
	js      jetstream.JetStream
	timeout time.Duration
}

// NewPublisher returns a Publisher. timeout bounds the wait for all acks of
// one call (default 5s).
func NewPublisher(js jetstream.JetStream, timeout time.Duration) (*Publisher, error) {
	if js == nil {
		return nil, errors.New("pipeline: publisher needs a JetStream context")
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Publisher{js: js, timeout: timeout}, nil
}

// EventMsg builds the JetStream message of a validated event: the raw event
// bytes on the type's subject, with the message id of EventMsgID.
func EventMsg(e *schemas.Event) *nats.Msg {
	// The header key is already canonical: no Header.Set, which would
	// canonicalize it again for every event.
	return &nats.Msg{Subject: EventSubject(e.Type), Data: e.Raw,
		Header: nats.Header{jetstream.MsgIDHeader: []string{EventMsgID(e)}}}
}

// EventMsgID is the JetStream message id of an event: 128 bits of the
// SHA-256 of its identity (source, 0, id) and 64 bits of its content hash,
// in 32 URL-safe base64 characters. An identical resend inside the
// duplicate window is dropped by JetStream as a duplicate; a conflicting
// resend (same identity, other content) gets another id, so it reaches the
// sink, which records it in the dead-letter store instead of losing it.
// The id is short on purpose: JetStream keeps every id of the window in
// memory (docs/performance.md).
func EventMsgID(e *schemas.Event) string {
	id := sha256.Sum256([]byte(e.Source + "\x00" + e.ID))
	h := e.ContentHash()
	var b [24]byte
	copy(b[:16], id[:16])
	copy(b[16:], h[:8])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// retryTwice is the option of every async publish, made once: a
// JetStream that has no responder yet (a leader election) is asked again.
var retryTwice = jetstream.WithRetryAttempts(2)

// Publish publishes msgs asynchronously and waits until JetStream has
// acknowledged every one. It returns how many JetStream reported as
// duplicates. Any failure returns an error wrapping ErrUnavailable: some
// messages may have been stored, so the caller must not report success,
// and a retry is safe because every message carries its id.
func (p *Publisher) Publish(ctx context.Context, msgs []*nats.Msg) (duplicates int, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := p.js.PublishMsgAsync(m, retryTwice)
		if err != nil {
			return 0, fmt.Errorf("%w: publishing: %v", ErrUnavailable, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				duplicates++
			}
		case err := <-f.Err():
			return 0, fmt.Errorf("%w: awaiting ack: %v", ErrUnavailable, err)
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: awaiting ack: %v", ErrUnavailable, ctx.Err())
		}
	}
	return duplicates, nil
}

// PublishSync publishes one message and waits for its ack.
func (p *Publisher) PublishSync(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ack, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%w: publishing: %v", ErrUnavailable, err)
	}
	return ack, nil
}
