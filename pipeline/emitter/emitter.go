// Package emitter is the small client that services use to publish usage
// events straight onto NATS. It validates each event locally, derives the
// JetStream message id from the event's identity (source, id) exactly as
// Tally's HTTP ingest does, and retries publishing until JetStream
// acknowledges, so a retried event is a duplicate, never a second event.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/schemas"
)

// DefaultSubject is where events are published unless Config says otherwise.
// It must lie under the ingest stream's subjects (tally.ingest.>).
const DefaultSubject = "tally.ingest.events"

// Config configures an Emitter.
type Config struct {
	// Subject to publish on (default DefaultSubject).
	Subject string
	// Attempts per event before giving up (default 5), with backoff from
	// 100ms doubling to 2s.
	Attempts int
	// AckTimeout bounds the wait for each JetStream ack (default 5s).
	AckTimeout time.Duration
}

// Emitter publishes events to Tally's ingest stream.
type Emitter struct {
	js  jetstream.JetStream
	cfg Config
}

// Result tells what JetStream did with an event.
type Result struct {
	// Duplicate is true when JetStream already held an event with this
	// identity inside its duplicate window.
	Duplicate bool
}

// New returns an Emitter publishing through js.
func New(js jetstream.JetStream, cfg Config) (*Emitter, error) {
	if js == nil {
		return nil, errors.New("emitter: JetStream context required")
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	return &Emitter{js: js, cfg: cfg}, nil
}

// Emit validates one CloudEvent (structured JSON) and publishes it. An
// invalid event returns the validation error (a *schemas.FieldError) and is
// not published.
func (e *Emitter) Emit(ctx context.Context, raw []byte) (Result, error) {
	ev, err := schemas.Decode(raw)
	if err != nil {
		return Result{}, fmt.Errorf("validating event: %w", err)
	}
	if err := ev.CheckTime(time.Now(), schemas.MaxFutureSkew); err != nil {
		return Result{}, fmt.Errorf("validating event: %w", err)
	}
	msg := nats.NewMsg(e.cfg.Subject)
	msg.Data = raw
	msg.Header.Set(jetstream.MsgIDHeader, pipeline.EventMsgID(ev))

	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, e.cfg.AckTimeout)
		ack, err := e.js.PublishMsg(actx, msg)
		cancel()
		if err == nil {
			return Result{Duplicate: ack.Duplicate}, nil
		}
		if attempt >= e.cfg.Attempts || ctx.Err() != nil {
			return Result{}, fmt.Errorf("publishing event %q after %d attempts: %w", ev.ID, attempt, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, fmt.Errorf("publishing event %q: %w", ev.ID, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
