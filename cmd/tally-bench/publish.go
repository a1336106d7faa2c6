package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// Publishing limits.
const (
	// asyncAckTimeout fails an async publish whose ack has not come.
	asyncAckTimeout = 30 * time.Second
	// retryAttempts and retryTimeout bound the synchronous republish of a
	// message whose async ack failed.
	retryAttempts = 5
	retryTimeout  = 10 * time.Second
)

// natsClient is a NATS connection with a JetStream context sized for a
// window of async publishes.
type natsClient struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func connectNATS(url string, window int) (*natsClient, error) {
	nc, err := nats.Connect(url, nats.Name("tally-bench"))
	if err != nil {
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	js, err := jetstream.New(nc,
		// The window is enforced by windowPublisher; this only keeps the
		// client from stalling first.
		jetstream.WithPublishAsyncMaxPending(window+16),
		jetstream.WithPublishAsyncTimeout(asyncAckTimeout),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	return &natsClient{nc: nc, js: js}, nil
}

func (c *natsClient) close() { c.nc.Close() }

// pubHooks let a phase pace the publishing and watch its progress. Every
// hook may be nil.
type pubHooks struct {
	// pace is called before message i is published; it may block.
	pace func(ctx context.Context, i int) error
	// sent is called once message i has been handed to the client.
	sent func(i int, at time.Time)
	// acked is called with the number of newly acknowledged messages.
	acked func(n int)
}

// pubStats describe one publishing run.
type pubStats struct {
	start, lastAck time.Time
	duplicates     int // acks that JetStream flagged as duplicates
	retries        int // messages published again after a failed ack
}

// windowPublisher publishes events on one subject with JetStream async
// publish, each with its Nats-Msg-Id, keeping at most window acks
// outstanding. A message whose ack fails is published again synchronously:
// its message id makes that a duplicate if the first copy was stored after
// all, so every event is stored exactly once.
type windowPublisher struct {
	js      jetstream.JetStream
	subject string
	window  int
}

// pending is a published message awaiting its ack.
type pending struct {
	i   int
	ack jetstream.PubAckFuture
}

// publish sends every event and returns once all are acknowledged.
func (p *windowPublisher) publish(ctx context.Context, events []event, hooks pubHooks) (pubStats, error) {
	st := pubStats{start: time.Now()}
	inflight := make(chan pending, p.window)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(inflight)
		return p.send(gctx, events, hooks, inflight)
	})
	g.Go(func() error {
		return p.collect(gctx, events, hooks, inflight, &st)
	})
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.lastAck = time.Now()
	return st, nil
}

func (p *windowPublisher) send(ctx context.Context, events []event, hooks pubHooks, inflight chan<- pending) error {
	for i := range events {
		if hooks.pace != nil {
			if err := hooks.pace(ctx, i); err != nil {
				return err
			}
		}
		f, err := p.js.PublishMsgAsync(p.msg(events[i]))
		if err != nil {
			return fmt.Errorf("publishing event %d: %w", i, err)
		}
		if hooks.sent != nil {
			hooks.sent(i, time.Now())
		}
		select {
		case inflight <- pending{i: i, ack: f}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ackBatch is how many acks are reported to hooks.acked at once.
const ackBatch = 500

func (p *windowPublisher) collect(ctx context.Context, events []event, hooks pubHooks, inflight <-chan pending, st *pubStats) error {
	unreported := 0
	report := func() {
		if hooks.acked != nil && unreported > 0 {
			hooks.acked(unreported)
		}
		unreported = 0
	}
	defer report()
	for pm := range inflight {
		select {
		case ack := <-pm.ack.Ok():
			if ack.Duplicate {
				st.duplicates++
			}
		case <-pm.ack.Err(): //nolint:errcheck // published again below, where an error counts
			st.retries++
			dup, err := p.republish(ctx, events[pm.i])
			if err != nil {
				return fmt.Errorf("publishing event %d again: %w", pm.i, err)
			}
			if dup {
				st.duplicates++
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		if unreported++; unreported == ackBatch {
			report()
		}
	}
	return nil
}

// republish publishes one message synchronously, with a few attempts. It
// reports whether JetStream saw it as a duplicate.
func (p *windowPublisher) republish(ctx context.Context, ev event) (duplicate bool, err error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, retryTimeout)
		ack, err := p.js.PublishMsg(actx, p.msg(ev))
		cancel()
		if err == nil {
			return ack.Duplicate, nil
		}
		if attempt == retryAttempts || ctx.Err() != nil {
			return false, fmt.Errorf("after %d attempts: %w", attempt, errors.Join(err, ctx.Err()))
		}
		if !sleepCtx(ctx, backoff) {
			return false, ctx.Err()
		}
		backoff *= 2
	}
}

func (p *windowPublisher) msg(ev event) *nats.Msg {
	m := nats.NewMsg(p.subject)
	m.Data = ev.raw
	m.Header.Set(jetstream.MsgIDHeader, ev.msgID)
	return m
}

// sleepCtx sleeps for d; it returns false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
