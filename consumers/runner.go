package consumers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/internal/retry"
)

// RunnerConfig configures a durable pull consumer and its batching.
type RunnerConfig struct {
	// Stream and Durable name the stream and the durable consumer. Every
	// replica of Tally uses the same durable name and so shares the work.
	Stream  string
	Durable string
	// FilterSubject limits the consumer to a subject (optional).
	FilterSubject string
	// MaxBatch is the most messages per batch (default 5000).
	MaxBatch int
	// MaxBatchBytes is the most bytes per batch (default 16 MiB).
	MaxBatchBytes int
	// MaxWait is how long a batch may wait to fill up (default 200ms).
	MaxWait time.Duration
	// AckWait is how long JetStream waits for the ack of a delivered message
	// before redelivering it (default 2m). It must exceed the worst handling
	// time of a batch, retries included.
	AckWait time.Duration
	// MaxAckPending bounds delivered but unacknowledged messages, and so the
	// memory of the consumer (default 2 × MaxBatch: the batch in hand and
	// the one fetched meanwhile).
	MaxAckPending int
	// MaxRedeliveryDelay caps the delay before a failed batch is redelivered
	// (default 30s). The delay doubles with each delivery from 1s.
	MaxRedeliveryDelay time.Duration
	// DrainTimeout bounds the finishing of the in-flight batch at shutdown
	// (default 30s).
	DrainTimeout time.Duration

	Logger  zerolog.Logger
	Metrics *Metrics
}

func (c *RunnerConfig) setDefaults() {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 5000
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 16 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 200 * time.Millisecond
	}
	if c.AckWait <= 0 {
		c.AckWait = 2 * time.Minute
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 2 * c.MaxBatch
	}
	if c.MaxRedeliveryDelay <= 0 {
		c.MaxRedeliveryDelay = 30 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(prometheus.NewRegistry())
	}
}

// Validate reports a configuration that cannot work.
func (c RunnerConfig) Validate() error {
	if c.Stream == "" || c.Durable == "" {
		return errors.New("consumers: stream and durable name are required")
	}
	return nil
}

// Runner feeds batches from a durable pull consumer to a Handler.
type Runner struct {
	js  jetstream.JetStream
	cfg RunnerConfig
	h   Handler
}

// NewRunner returns a Runner, or an error for a missing dependency.
func NewRunner(js jetstream.JetStream, cfg RunnerConfig, h Handler) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if js == nil || h == nil {
		return nil, errors.New("consumers: runner needs JetStream and a handler")
	}
	return &Runner{js: js, cfg: cfg, h: h}, nil
}

// ConsumerConfig is the durable consumer the runner creates or updates.
func (r *Runner) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:         r.cfg.Durable,
		Description:     "Tally " + r.cfg.Durable,
		AckPolicy:       jetstream.AckExplicitPolicy,
		AckWait:         r.cfg.AckWait,
		MaxAckPending:   r.cfg.MaxAckPending,
		MaxDeliver:      -1, // never give up on a message: nothing accepted is dropped
		FilterSubject:   r.cfg.FilterSubject,
		DeliverPolicy:   jetstream.DeliverAllPolicy,
		MaxRequestBatch: r.cfg.MaxBatch,
	}
}

// Run consumes until ctx ends, then finishes the batch in hand (bounded by
// DrainTimeout) and returns. A batch fetched but not yet handled at that
// moment is nak'ed so that another replica takes it at once.
func (r *Runner) Run(ctx context.Context) error {
	log := r.cfg.Logger.With().Str("consumer", r.cfg.Durable).Logger()
	cons, err := r.bind(ctx, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // stopped while binding: a clean stop
		}
		return err
	}
	batches := make(chan []*Message, 1)
	fetchErr := make(chan error, 1)
	go func() {
		defer close(batches)
		fetchErr <- r.fetchLoop(ctx, cons, batches, log)
	}()

	var lastInfo time.Time
	for batch := range batches {
		if ctx.Err() != nil {
			nakAll(batch, 0)
			continue
		}
		r.handle(ctx, batch)
		if time.Since(lastInfo) > 5*time.Second {
			lastInfo = time.Now()
			r.recordLag(ctx, cons)
		}
	}
	if err := <-fetchErr; err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// bind creates or updates the durable consumer, retrying with backoff while
// JetStream is unreachable, until ctx ends.
func (r *Runner) bind(ctx context.Context, log zerolog.Logger) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := retry.Until(ctx, log, "creating consumer", 200*time.Millisecond, 5*time.Second, func(ctx context.Context) (err error) {
		cons, err = r.js.CreateOrUpdateConsumer(ctx, r.cfg.Stream, r.ConsumerConfig())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", r.cfg.Durable, r.cfg.Stream, err)
	}
	return cons, nil
}

func (r *Runner) fetchLoop(ctx context.Context, cons jetstream.Consumer, out chan<- []*Message, log zerolog.Logger) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		mb, err := cons.Fetch(r.cfg.MaxBatch, jetstream.FetchMaxWait(r.cfg.MaxWait), jetstream.FetchMaxBytes(r.cfg.MaxBatchBytes))
		if err != nil {
			log.Warn().Err(err).Msg("fetching batch")
			if !sleepCtx(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		var batch []*Message
		for jm := range mb.Messages() {
			m, err := fromJetStream(jm)
			if err != nil {
				// Without metadata the message cannot be settled; it is
				// redelivered after the ack wait.
				log.Error().Err(err).Msg("reading message metadata")
				continue
			}
			batch = append(batch, m)
		}
		if err := mb.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			log.Debug().Err(err).Msg("fetch ended")
		}
		if len(batch) == 0 {
			continue
		}
		select {
		case out <- batch:
		case <-ctx.Done():
			nakAll(batch, 0)
			return nil
		}
	}
	return nil
}

// handle runs the handler and settles the batch. On success every message
// is acknowledged: all but the last with a plain ack, the last with a
// double ack. Acks of one connection reach the consumer in order, so when
// the server confirms the last one, it has applied all of them. On failure
// every message is nak'ed with a delay that grows with its deliveries.
//
// The handler's context outlives ctx, the runner's, so that a shutdown lets
// the batch in hand finish; it ends AckWait after the batch started (JetStream
// redelivers it then anyway) or DrainTimeout after ctx ended, if sooner.
func (r *Runner) handle(ctx context.Context, batch []*Message) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.AckWait)
	defer cancel()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(r.cfg.DrainTimeout, cancel) })()
	ctx = hctx
	m := r.cfg.Metrics
	for _, msg := range batch {
		if msg.Delivered > 1 {
			m.Redeliveries.WithLabelValues(r.cfg.Durable).Inc()
		}
	}
	if err := r.h(ctx, batch); err != nil {
		nakAll(batch, r.cfg.MaxRedeliveryDelay)
		return
	}
	for _, msg := range batch[:len(batch)-1] {
		if err := msg.acker.Ack(); err != nil {
			r.cfg.Logger.Warn().Err(err).Uint64("seq", msg.StreamSeq).Msg("acking message; it will be redelivered and deduplicated")
		}
	}
	last := batch[len(batch)-1]
	if err := last.acker.DoubleAck(ctx); err != nil {
		r.cfg.Logger.Warn().Err(err).Uint64("seq", last.StreamSeq).Msg("double-acking batch; it will be redelivered and deduplicated")
	}
}

func (r *Runner) recordLag(ctx context.Context, cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	r.cfg.Metrics.Pending.WithLabelValues(r.cfg.Durable).Set(float64(info.NumPending + uint64(info.NumAckPending)))
}

func nakAll(batch []*Message, maxDelay time.Duration) {
	for _, m := range batch {
		delay := time.Duration(0)
		if maxDelay > 0 {
			delay = time.Second << min(m.Delivered-1, 10)
			delay = min(delay, maxDelay)
		}
		_ = m.acker.NakWithDelay(delay)
	}
}

func fromJetStream(jm jetstream.Msg) (*Message, error) {
	md, err := jm.Metadata()
	if err != nil {
		return nil, err
	}
	return &Message{
		Subject:   jm.Subject(),
		Data:      jm.Data(),
		Header:    jm.Headers(),
		Stream:    md.Stream,
		StreamSeq: md.Sequence.Stream,
		Delivered: md.NumDelivered,
		Timestamp: md.Timestamp,
		acker:     jm,
	}, nil
}

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
