// Package jsqueue carries webhook messages and deliveries on JetStream:
// the TALLY_WEBHOOKS work-queue stream, a fan-out consumer on its
// messages subject and a delivery consumer on its deliveries subject,
// both durable and shared by every replica, so that one message or
// delivery is in one replica's hands at a time.
//
// A message is published with Nats-Msg-Id = its id, a delivery with its
// delivery id (a manual retry with a retry id): a repeat within the
// stream's duplicate window is dropped. A failed attempt is nak'ed with
// the delay of the retry schedule, so a scheduled retry is a message
// the stream keeps: it survives a crash or a restart (after which it may
// come early, never late by more than the ack wait).
package jsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/internal/retry"
	"github.com/tally-billing/tally/webhooks"
)

// Stream names and subjects.
const (
	Stream             = "TALLY_WEBHOOKS"
	MessagesSubject    = "tally.webhooks.messages"
	DeliveriesSubject  = "tally.webhooks.deliveries"
	FanOutConsumer     = "tally-webhooks-fanout"
	DeliveryConsumer   = "tally-webhooks-deliver"
	defaultAckWait     = 30 * time.Second
	defaultConcurrency = 8
)

// Config configures the queue.
type Config struct {
	// DedupWindow is the stream's duplicate window (default 2 min).
	DedupWindow time.Duration
	// Concurrency is how many deliveries one process makes at once
	// (default 8).
	Concurrency int
	// Replicas of the stream (default 1; 3 on a NATS cluster, as
	// Tally's other streams: --stream-replicas).
	Replicas int
	Logger   zerolog.Logger
}

// Queue is the JetStream side of webhooks: it implements
// webhooks.MessageQueue and runs the two consumers.
type Queue struct {
	js  jetstream.JetStream
	cfg Config
	log zerolog.Logger
}

// applyTimeout bounds how long New retries applying the stream and its
// consumers: on a NATS cluster that has just formed (or lost a node),
// creating a replicated stream fails for a while with "insufficient
// resources" or "temporarily unavailable", and a replica should wait
// rather than exit.
const applyTimeout = time.Minute

// New applies the stream and its consumers (CreateOrUpdate, so replicas
// and upgrades converge), retrying for up to applyTimeout, and returns
// the queue.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Queue, error) {
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = 2 * time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = defaultConcurrency
	}
	q := &Queue{js: js, cfg: cfg, log: cfg.Logger.With().Str("component", "webhooks-queue").Logger()}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	if err := retry.Until(ctx, q.log, "applying the webhooks stream", 250*time.Millisecond, 4*time.Second, q.apply); err != nil {
		return nil, err
	}
	return q, nil
}

// apply creates or updates the stream and its two consumers.
func (q *Queue) apply(ctx context.Context) error {
	replicas := max(q.cfg.Replicas, 1)
	if _, err := q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: Stream, Subjects: []string{MessagesSubject, DeliveriesSubject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
		MaxAge: 7 * 24 * time.Hour, MaxMsgSize: 1 << 20, Discard: jetstream.DiscardNew,
		Duplicates: q.cfg.DedupWindow, Replicas: replicas,
	}); err != nil {
		return fmt.Errorf("applying stream %s: %w", Stream, err)
	}
	for _, c := range []struct{ name, subject string }{{FanOutConsumer, MessagesSubject}, {DeliveryConsumer, DeliveriesSubject}} {
		if _, err := q.js.CreateOrUpdateConsumer(ctx, Stream, jetstream.ConsumerConfig{
			Durable: c.name, FilterSubject: c.subject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: defaultAckWait, MaxDeliver: -1, MaxAckPending: 1000, Replicas: replicas,
		}); err != nil {
			return fmt.Errorf("applying consumer %s: %w", c.name, err)
		}
	}
	return nil
}

var _ webhooks.MessageQueue = (*Queue)(nil)

// PublishMessages publishes each message under its id and waits for
// every ack.
func (q *Queue) PublishMessages(ctx context.Context, ms []webhooks.Message) error {
	for _, m := range ms {
		if err := q.publish(ctx, MessagesSubject, m.ID, m); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueDeliveries publishes each task under dedup(t) and waits for
// every ack.
func (q *Queue) EnqueueDeliveries(ctx context.Context, ts []webhooks.Task, dedup func(webhooks.Task) string) error {
	for _, t := range ts {
		if err := q.publish(ctx, DeliveriesSubject, dedup(t), t); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) publish(ctx context.Context, subject, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", id, err)
	}
	if _, err := q.js.Publish(ctx, subject, data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publishing %s: %w", id, err)
	}
	return nil
}

// Handlers are what the consumers call: the service's FanOut and
// Deliver.
type Handlers struct {
	FanOut  func(ctx context.Context, m webhooks.Message) error
	Deliver func(ctx context.Context, t webhooks.Task, attempt int) (webhooks.Decision, error)
}

// Run consumes both subjects until ctx ends. A fan-out that fails is
// nak'ed and comes again; a delivery is acked when done, nak'ed with the
// schedule's delay when it is to be retried, and nak'ed after a few
// seconds when it could not be logged.
func (q *Queue) Run(ctx context.Context, h Handlers) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs <- q.consume(ctx, FanOutConsumer, 1, func(ctx context.Context, jm jetstream.Msg) {
			var m webhooks.Message
			if err := json.Unmarshal(jm.Data(), &m); err != nil {
				q.log.Error().Err(err).Msg("undecodable webhook message; dropped")
				_ = jm.Term()
				return
			}
			if err := h.FanOut(ctx, m); err != nil {
				q.log.Warn().Err(err).Str("message", m.ID).Msg("fanning out; offered again")
				_ = jm.NakWithDelay(2 * time.Second)
				return
			}
			q.ack(ctx, jm)
		})
	}()
	go func() {
		defer wg.Done()
		errs <- q.consume(ctx, DeliveryConsumer, q.cfg.Concurrency, func(ctx context.Context, jm jetstream.Msg) {
			var t webhooks.Task
			if err := json.Unmarshal(jm.Data(), &t); err != nil {
				q.log.Error().Err(err).Msg("undecodable webhook delivery; dropped")
				_ = jm.Term()
				return
			}
			n := 1
			if md, err := jm.Metadata(); err == nil {
				n = int(md.NumDelivered)
			}
			_ = jm.InProgress() // the ack wait starts now, not when the message was buffered
			d, err := h.Deliver(ctx, t, n)
			switch {
			case err != nil:
				q.log.Warn().Err(err).Str("delivery", t.DeliveryID).Msg("delivering; offered again")
				_ = jm.NakWithDelay(5 * time.Second)
			case d.Done:
				q.ack(ctx, jm)
			default:
				_ = jm.NakWithDelay(d.RetryIn)
			}
		})
	}()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (q *Queue) ack(ctx context.Context, jm jetstream.Msg) {
	if err := jm.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		q.log.Warn().Err(err).Msg("acking a webhook message; it may come again (same id)")
	}
}

// open opens the durable consumer, retrying while JetStream does not
// answer (a restarting NATS server or cluster): the webhooks wait for it
// like the pipeline's consumers, rather than stop the process. It returns
// nil and no error when ctx ends first.
func (q *Queue) open(ctx context.Context, durable string) (jetstream.Consumer, error) {
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := q.js.Consumer(octx, Stream, durable)
		cancel()
		switch {
		case err == nil:
			return cons, nil
		case errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound):
			// Deleted under us (a NATS store lost): apply them again.
			if aerr := q.apply(ctx); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
		q.log.Warn().Err(err).Str("consumer", durable).Dur("retry_in", wait).Msg("opening the webhook queue's consumer; retrying")
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
	}
}

// consume runs handle on the durable's messages, workers at a time,
// until ctx ends; the messages in hand are finished first.
func (q *Queue) consume(ctx context.Context, durable string, workers int, handle func(context.Context, jetstream.Msg)) error {
	cons, err := q.open(ctx, durable)
	if err != nil || cons == nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(workers))
	if err != nil {
		return fmt.Errorf("consuming %s: %w", durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	// The handlers' context outlives ctx by a grace period, so that an
	// attempt in flight at shutdown is logged and acked.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		jm, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			q.log.Warn().Err(err).Str("consumer", durable).Msg("reading webhook queue")
			select { // a pause, so that a broken connection is not a busy loop
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			handle(hctx, jm)
		}()
	}
}
