package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Progress is how far the pipeline has carried what it acknowledged, read
// from JetStream itself, so it is the same for every replica.
//
// Both ingest paths store an event once, in the events stream: one
// acknowledged over HTTP (202) or over NATS (a JetStream ack) is there at
// a sequence at most Events.Last. The sink acknowledges an event only
// after its insert into ClickHouse returned (or, invalid or conflicting,
// after it was dead-lettered), so every event at or below Events.Through
// can be read back.
//
// Ingest is the legacy ingest stream (IngestStream): empty, unless a
// version before the single hop left raw events there; those reach the
// events stream before the drain consumer acknowledges them.
type Progress struct {
	Ingest StreamProgress `json:"ingest"`
	Events StreamProgress `json:"events"`
}

// StreamProgress is one stream's high-water mark and how far its consumer
// has settled it.
type StreamProgress struct {
	// Last is the stream's last sequence: the high-water mark of what was
	// acknowledged to emitters.
	Last uint64 `json:"last_seq"`
	// Through is the consumer's low-water mark: every message at or below
	// it is settled: moved to the events stream for the legacy ingest
	// stream; stored in ClickHouse, or dead-lettered, for the events
	// stream.
	Through uint64 `json:"through_seq"`
	// Pending is how many messages are not settled yet.
	Pending uint64 `json:"pending"`
}

// Behind is the error of a barrier that timed out: what the pipeline still
// had to settle when the wait ended.
type Behind struct {
	Waited time.Duration
	// Unvalidated are events of the barrier still in the legacy ingest
	// stream (see IngestStream), not yet moved to the events stream;
	// Unstored are events of the barrier not yet stored.
	Unvalidated, Unstored uint64
}

func (b *Behind) Error() string {
	return fmt.Sprintf("%v: after %s, %d acknowledged events are not stored yet and %d are not validated yet",
		ErrBehind, b.Waited.Round(time.Millisecond), b.Unstored, b.Unvalidated)
}

// Unwrap makes errors.Is(err, ErrBehind) hold.
func (b *Behind) Unwrap() error { return ErrBehind }

// WatermarkConfig configures a Watermark.
type WatermarkConfig struct {
	// Validator and Sink are the durable consumers of the legacy ingest
	// stream (its drain) and of the events stream.
	Validator, Sink string
	// Timeout bounds one barrier (default 30s).
	Timeout time.Duration
	// Poll is the first interval between looks; it doubles up to 100ms
	// (default 5ms).
	Poll time.Duration
}

// Watermark reads the pipeline's progress and waits for it: the
// read-your-writes barrier of SPEC §5.
type Watermark struct {
	js  jetstream.JetStream
	cfg WatermarkConfig

	mu   sync.Mutex
	sink jetstream.Consumer // bound on first use
}

// NewWatermark returns a Watermark over the topology's streams.
func NewWatermark(js jetstream.JetStream, cfg WatermarkConfig) (*Watermark, error) {
	if js == nil || cfg.Validator == "" || cfg.Sink == "" {
		return nil, errors.New("pipeline: watermark needs JetStream and the validator and sink consumer names")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	return &Watermark{js: js, cfg: cfg}, nil
}

// Timeout is the longest a barrier waits.
func (w *Watermark) Timeout() time.Duration { return w.cfg.Timeout }

// Progress reads the pipeline's progress now.
func (w *Watermark) Progress(ctx context.Context) (Progress, error) {
	in, err := w.ingest(ctx)
	if err != nil {
		return Progress{}, err
	}
	last, err := w.eventsLast(ctx)
	if err != nil {
		return Progress{}, err
	}
	stored, err := w.stored(ctx, last)
	if err != nil {
		return Progress{}, err
	}
	return Progress{Ingest: in, Events: stored}, nil
}

// Barrier returns once every event acknowledged before it was called, over
// HTTP or NATS, is stored in ClickHouse. It waits at most the configured
// timeout (or ctx's deadline, if sooner) and then returns a *Behind error.
//
// In order: note the last sequence of the legacy ingest stream; if it
// still holds events, wait until the drain has moved them up to the mark
// into the events stream; note the events stream's last sequence (every
// event acknowledged before the call, over HTTP or NATS, is at or below
// it); wait until the sink has settled up to it.
func (w *Watermark) Barrier(ctx context.Context) (Progress, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	in, err := w.ingest(ctx)
	if err != nil {
		return Progress{}, err
	}
	mark := in.Last
	if in.Pending > 0 {
		in, err = w.waitIngest(ctx, mark)
		if err != nil {
			return Progress{}, w.behind(err, start, in.Pending, 0)
		}
	}
	last, err := w.eventsLast(ctx)
	if err != nil {
		return Progress{}, err
	}
	stored, err := w.waitStored(ctx, last)
	if err != nil {
		return Progress{}, w.behind(err, start, 0, stored.Pending)
	}
	return Progress{Ingest: in, Events: stored}, nil
}

// behind turns a wait that ran out of time into a *Behind; other errors
// pass.
func (w *Watermark) behind(err error, start time.Time, unvalidated, unstored uint64) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Behind{Waited: time.Since(start), Unvalidated: unvalidated, Unstored: unstored}
	}
	return err
}

// ingest reads the legacy ingest stream. It is a work queue: the drain's
// ack removes a message, so every sequence below the first one present is
// settled.
func (w *Watermark) ingest(ctx context.Context) (StreamProgress, error) {
	st, err := w.js.Stream(ctx, IngestStream)
	if err != nil {
		return StreamProgress{}, fmt.Errorf("reading stream %s: %w", IngestStream, err)
	}
	s := st.CachedInfo().State
	p := StreamProgress{Last: s.LastSeq, Pending: s.Msgs, Through: s.LastSeq}
	if s.Msgs > 0 {
		p.Through = s.FirstSeq - 1
	}
	return p, nil
}

func (w *Watermark) eventsLast(ctx context.Context) (uint64, error) {
	st, err := w.js.Stream(ctx, EventsStream)
	if err != nil {
		return 0, fmt.Errorf("reading stream %s: %w", EventsStream, err)
	}
	return st.CachedInfo().State.LastSeq, nil
}

// stored reads how far the sink has stored the events stream, against the
// mark last.
func (w *Watermark) stored(ctx context.Context, last uint64) (StreamProgress, error) {
	cons, err := w.sinkConsumer(ctx)
	if err != nil {
		return StreamProgress{}, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return StreamProgress{}, fmt.Errorf("reading consumer %s: %w", w.cfg.Sink, err)
	}
	p := StreamProgress{Last: last, Through: info.AckFloor.Stream}
	if info.NumPending == 0 && info.NumAckPending == 0 {
		// Everything delivered is acknowledged: the floor is the
		// consumer's position, which may be past last.
		p.Through = max(p.Through, info.Delivered.Stream)
	}
	if p.Through < last {
		p.Pending = last - p.Through
	}
	return p, nil
}

// sinkConsumer binds the sink's durable consumer once. Before the sink
// has created it nothing can have been stored, so the error is retried by
// the caller's wait.
func (w *Watermark) sinkConsumer(ctx context.Context) (jetstream.Consumer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sink != nil {
		return w.sink, nil
	}
	cons, err := w.js.Consumer(ctx, EventsStream, w.cfg.Sink)
	if err != nil {
		return nil, fmt.Errorf("binding consumer %s: %w", w.cfg.Sink, err)
	}
	w.sink = cons
	return cons, nil
}

func (w *Watermark) waitIngest(ctx context.Context, mark uint64) (StreamProgress, error) {
	return poll(ctx, w.cfg.Poll, func() (StreamProgress, bool, error) {
		p, err := w.ingest(ctx)
		return p, p.Through >= mark, err
	})
}

func (w *Watermark) waitStored(ctx context.Context, last uint64) (StreamProgress, error) {
	return poll(ctx, w.cfg.Poll, func() (StreamProgress, bool, error) {
		p, err := w.stored(ctx, last)
		return p, p.Through >= last, err
	})
}

// poll calls look until it reports done or ctx ends, waiting interval
// between looks, doubled each time up to 100ms. An error of look while
// ctx lasts is retried (JetStream may be electing a leader); when ctx
// ends the last progress is returned with ctx's error.
func poll(ctx context.Context, interval time.Duration, look func() (StreamProgress, bool, error)) (StreamProgress, error) {
	var last StreamProgress
	for {
		p, done, err := look()
		if err == nil {
			if done {
				return p, nil
			}
			last = p
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return last, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			}
			return last, ctx.Err()
		case <-t.C:
		}
		interval = min(2*interval, 100*time.Millisecond)
	}
}
