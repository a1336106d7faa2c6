// Package daemon wires Tally's parts into the `tally run` process: NATS
// (embedded or external), the JetStream topology, ClickHouse (managed local
// or external), the consumers and the HTTP API, and shuts them down in the
// reverse order, draining in-flight batches.
package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/api"
	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/lease"
	"github.com/tally-billing/tally/natsembed"
	"github.com/tally-billing/tally/payouts"
	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/stripesync"
)

// Durable consumer names, shared by every replica.
const (
	SinkConsumer = "tally-sink"
	// ValidatorConsumer drains the legacy ingest stream (see
	// pipeline.IngestStream); it keeps the name of the validator it
	// replaces so that it resumes that consumer's position.
	ValidatorConsumer  = "tally-validator"
	DeadLetterConsumer = "tally-deadletters"
)

// Daemon is a running Tally.
type Daemon struct {
	cfg      Config
	log      zerolog.Logger
	keysPath string

	natsSrv *natsembed.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	chSrv   *chlocal.Server
	chDSN   string
	store   *chstore.Store
	books   *pricebook.Catalog // every price book version Tally ran with; Current rates open periods
	stripe  *stripesync.Client
	holder  string // this replica's name in leases
	leases  []*lease.Lease
	httpSrv *http.Server
	httpLn  net.Listener
	disk    *pipeline.DiskGuard

	cancel   context.CancelFunc
	group    *errgroup.Group
	stopOnce sync.Once
	stopErr  error
}

// Start brings every part up and returns once the API is serving.
// On error, whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Daemon, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, holder: replicaName()}
	defer func() {
		if err != nil {
			// The start error is what the caller needs; a failure to stop
			// what had started is logged.
			if terr := d.teardown(context.Background()); terr != nil {
				d.log.Warn().Err(terr).Msg("stopping what had started after a failed start")
			}
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	keys, err := d.loadKeys()
	if err != nil {
		return nil, err
	}
	d.disk, err = pipeline.NewDiskGuard(pipeline.DiskGuardConfig{Dir: cfg.DataDir, MinFree: cfg.MinFreeDisk,
		Interval: cfg.DiskCheckInterval, Logger: d.log.With().Str("component", "disk").Logger()})
	if err != nil {
		return nil, err
	}
	// The price book is read before anything starts: a bad one is refused
	// at once, with the problem and its fix.
	book, err := d.loadPriceBook()
	if err != nil {
		return nil, err
	}
	if err := d.startNATS(ctx); err != nil {
		return nil, err
	}
	if err := d.startClickHouse(ctx); err != nil {
		return nil, err
	}
	if err := d.keepPriceBooks(ctx, book); err != nil {
		return nil, err
	}
	if err := d.startServing(ctx, keys); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Daemon) startServing(ctx context.Context, keys *auth.Keyring) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ingestMetrics := pipeline.NewIngestMetrics(reg)
	reg.MustRegister(d.disk.Collectors()...)
	consumerMetrics := consumers.NewMetrics(reg)
	sinkMetrics := consumers.NewSinkMetrics(reg)

	pub, err := pipeline.NewPublisher(d.js, 5*time.Second)
	if err != nil {
		return err
	}
	dlq, err := pipeline.NewDeadLetters(pub)
	if err != nil {
		return err
	}
	book := d.books.Current()
	if d.cfg.StripeKey != "" {
		if d.stripe, err = stripesync.New(stripesync.Config{Key: d.cfg.StripeKey, APIBase: d.cfg.StripeAPIBase,
			AttemptTimeout: d.cfg.StripeAttemptTimeout, Logger: d.log}); err != nil {
			return err
		}
	} else {
		d.log.Info().Msg("no Stripe key: invoices and payouts are a dry run (not_sent)")
	}
	runners, err := d.buildRunners(pub, dlq, ingestMetrics, consumerMetrics, sinkMetrics, book.CheckEvent)
	if err != nil {
		return err
	}
	ingest, err := pipeline.NewIngestHandler(pipeline.IngestConfig{
		Publisher: pub, Now: d.cfg.Now, Check: book.CheckEvent, Admit: d.disk.Admit,
		Logger: d.log.With().Str("component", "ingest").Logger(), Metrics: ingestMetrics,
	})
	if err != nil {
		return err
	}
	watermark, err := pipeline.NewWatermark(d.js, pipeline.WatermarkConfig{
		Validator: ValidatorConsumer, Sink: SinkConsumer, Timeout: d.cfg.BarrierTimeout})
	if err != nil {
		return err
	}
	rejecter := &storedRejecter{events: d.store.Events(), dlq: dlq}
	ents, err := d.buildEntitlements(book, watermark, rejecter)
	if err != nil {
		return err
	}
	hooks, hookQueue, err := d.buildWebhooks(ctx, ents)
	if err != nil {
		return err
	}
	bill, err := d.buildBilling(reg, book, rejecter, hooks.Facts())
	if err != nil {
		return err
	}
	ledger := d.store.Ledger() // the payouts' tables, on the store's connections
	marketCfg := payouts.Config{
		Book: book, Runs: ledger, Payouts: ledger, Store: ledger, Statuses: ledger, Ledger: ledger,
		Events: d.store.Events(), Rejecter: rejecter, Sellers: ents,
		Snapshots: ledger, Later: d.store.Events(), Checks: ledger, Position: storedPosition{watermark},
		Providers: ledger, Notifier: hooks.Facts(),
		Now: d.cfg.Now, Logger: d.log, Metrics: payouts.NewMetrics(reg),
	}
	if d.stripe != nil { // a nil *Client in the interface would not be a dry run
		marketCfg.Sender = stripesync.NewTransferSender(d.stripe)
	}
	service, err := payouts.New(marketCfg)
	if err != nil {
		return err
	}
	market := &lightRuns{Service: service}
	router, err := api.NewRouter(api.Config{
		Keys:         keys,
		Ingest:       ingest,
		Usage:        d.store.Events(),
		Billing:      bill,
		Marketplace:  market,
		Reports:      d.store.Finance(),
		Trends:       d.store.Finance(),
		Entitlements: ents,
		Webhooks:     hooks,
		// Concurrent reads share one read of the marks and one follower
		// of the sink's progress (pipeline.SharedBarrier).
		Barrier: pipeline.NewSharedBarrier(watermark, 0),
		Ready:   d.ready,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Now:     d.cfg.Now,
		Logger:  d.log.With().Str("component", "api").Logger(),
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", d.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", d.cfg.HTTPAddr, err)
	}
	d.httpLn = ln
	d.httpSrv = &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	g, gctx := errgroup.WithContext(runCtx)
	d.group = g
	for _, r := range runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error { return d.disk.Run(gctx) })
	g.Go(func() error { return ents.Run(gctx) })
	g.Go(func() error { return runWebhooks(gctx, hookQueue, hooks) })
	g.Go(func() error {
		if err := d.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving http: %w", err)
		}
		return nil
	})
	if !d.cfg.NoScheduler {
		if err := d.startSchedulers(ctx, g, gctx, bill, market, watermark); err != nil {
			cancel()
			return err
		}
	}
	if d.cfg.PprofAddr != "" {
		if err := d.servePprof(g, gctx); err != nil {
			cancel()
			return err
		}
	}
	d.log.Info().Str("addr", ln.Addr().String()).Str("keys_file", d.keysPath).Msg("tally is serving")
	return nil
}

func (d *Daemon) buildRunners(pub *pipeline.Publisher, dlq *pipeline.DeadLetters, im *pipeline.IngestMetrics,
	cm *consumers.Metrics, sm *consumers.SinkMetrics, check pipeline.Check) ([]*consumers.Runner, error) {
	specs := []struct {
		stream, durable string
		handler         consumers.Handler
		maxBatch        int
		maxWait         time.Duration
		deadLetter      bool
		// runners fetching from the durable at once in this process: one
		// sink, so that its identity lookups see every earlier batch of
		// this replica.
		runners int
	}{
		// The single hop: HTTP-validated and raw NATS events alike, one
		// decode each, validated inline for the NATS ones.
		{pipeline.EventsStream, SinkConsumer, pipeline.Sink(d.store.Events(), sm, im, check), d.cfg.SinkMaxBatch, d.cfg.SinkMaxWait, true, 1},
		// Moves what a version before the single hop left in the ingest
		// stream to the events stream; idle afterwards.
		{pipeline.IngestStream, ValidatorConsumer, pipeline.DrainLegacyIngest(pub), 1000, 200 * time.Millisecond, false, 1},
		{pipeline.DeadLetterStream, DeadLetterConsumer, consumers.DeadLetterSink(d.store.Events()), 1000, 200 * time.Millisecond, false, 1},
	}
	var out []*consumers.Runner
	for _, s := range specs {
		for range s.runners {
			log := d.log.With().Str("component", "consumer").Str("consumer", s.durable).Logger()
			mws := []consumers.Middleware{consumers.Log(log), consumers.Measure(cm, s.durable)}
			if s.deadLetter {
				mws = append(mws, consumers.DeadLetter(dlq))
			}
			mws = append(mws, consumers.Retry(consumers.RetryConfig{}), consumers.Recover())
			r, err := consumers.NewRunner(d.js, consumers.RunnerConfig{
				Stream: s.stream, Durable: s.durable, MaxBatch: s.maxBatch, MaxWait: s.maxWait,
				MaxAckPending: 2 * s.maxBatch * s.runners,
				AckWait:       d.cfg.AckWait, Logger: log, Metrics: cm,
			}, consumers.Chain(s.handler, mws...))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// HTTPAddr is the address the API listens on.
func (d *Daemon) HTTPAddr() string { return d.httpLn.Addr().String() }

// NATSURL is the NATS server the daemon uses.
func (d *Daemon) NATSURL() string { return d.nc.ConnectedUrl() }

// ClickHouseDSN is the ClickHouse the daemon stores into.
func (d *Daemon) ClickHouseDSN() string { return d.chDSN }

// ClickHouse is the managed local server, or nil with an external DSN.
func (d *Daemon) ClickHouse() *chlocal.Server { return d.chSrv }

// KeysFile is the keys file in use.
func (d *Daemon) KeysFile() string { return d.keysPath }

// Wait blocks until a part fails or Stop is called, and returns the first
// error.
func (d *Daemon) Wait() error { return d.group.Wait() }

// Stop shuts down gracefully: the API stops taking requests and finishes
// those in flight, the consumers finish their batch in hand, then NATS,
// ClickHouse and the embedded servers close. It is safe to call twice.
func (d *Daemon) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, d.cfg.ShutdownTimeout)
		defer cancel()
		d.stopErr = d.teardown(ctx)
	})
	return d.stopErr
}

func (d *Daemon) teardown(ctx context.Context) error {
	var errs []error
	if d.httpSrv != nil {
		if err := d.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping http: %w", err))
		}
	}
	if d.cancel != nil {
		d.cancel()
		if err := d.group.Wait(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range d.leases {
		if err := l.Release(ctx); err != nil {
			d.log.Warn().Err(err).Msg("releasing a lease")
		}
	}
	if d.nc != nil {
		if err := d.nc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			d.log.Warn().Err(err).Msg("flushing nats")
		}
		d.nc.Close()
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing clickhouse: %w", err))
		}
	}
	if d.chSrv != nil {
		if err := d.chSrv.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping managed clickhouse: %w", err))
		}
	}
	if d.natsSrv != nil {
		d.natsSrv.Shutdown()
	}
	return errors.Join(errs...)
}

// replicaName names this process among replicas: host, pid and a random
// suffix (a restarted process is a new holder).
func replicaName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}
