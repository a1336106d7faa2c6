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
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/tally-billing/tally/billing"
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

func (d *Daemon) loadKeys() (*auth.Keyring, error) {
	path := d.cfg.KeysFile
	if path == "" {
		path = d.cfg.DevKeysPath()
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if _, err := auth.WriteDevFile(path); err != nil {
				return nil, err
			}
			d.log.Warn().Str("keys_file", path).Msg("created a dev keys file (loopback only); pass --keys-file in production")
		} else {
			d.log.Info().Str("keys_file", path).Msg("using the dev keys file")
		}
	}
	d.keysPath = path
	return auth.LoadFile(path)
}

func (d *Daemon) startNATS(ctx context.Context) error {
	url := d.cfg.NATSURL
	if url == "" {
		storeDir := filepath.Join(d.cfg.DataDir, "nats")
		// JetStream may grow by the free space less the disk guard's
		// minimum, so it stops (503 at ingest) before the disk is full.
		maxStore := d.disk.StoreLimit(dirSize(storeDir))
		srv, err := natsembed.Start(natsembed.Config{
			StoreDir:   storeDir,
			ListenAddr: d.cfg.NATSListen,
			MaxStore:   maxStore,
			Logger:     d.log,
		})
		if err != nil {
			return fmt.Errorf("starting embedded nats: %w", err)
		}
		d.natsSrv = srv
		url = srv.ClientURL()
		d.log.Info().Str("url", url).Int64("max_store_bytes", maxStore).Msg("embedded nats with jetstream started")
	}
	nc, err := nats.Connect(url,
		nats.Name("tally"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		// No buffering while disconnected: a publish then fails at once and
		// ingest answers 503, instead of a 202 for bytes still in memory.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			d.log.Warn().Err(err).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(*nats.Conn) { d.log.Info().Msg("nats reconnected") }),
	)
	if err != nil {
		return fmt.Errorf("connecting to nats: %w", err)
	}
	d.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening jetstream: %w", err)
	}
	d.js = js
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pipeline.ApplyTopology(tctx, js, d.cfg.Topology); err != nil {
		return err
	}
	return nil
}

func (d *Daemon) startClickHouse(ctx context.Context) error {
	dsn := d.cfg.ClickHouseDSN
	if dsn == "" {
		srv, err := chlocal.Start(ctx, chlocal.Config{
			LibPath:      d.cfg.ChdbLib,
			DataDir:      filepath.Join(d.cfg.DataDir, "clickhouse"),
			Executable:   d.cfg.LauncherExecutable,
			LauncherArgs: d.cfg.LauncherArgs,
			Env:          d.cfg.LauncherEnv,
			Logger:       d.log,
		})
		if err != nil {
			return fmt.Errorf("starting managed clickhouse: %w", err)
		}
		d.chSrv = srv
		dsn = srv.DSN()
		d.log.Info().Str("dsn", dsn).Str("log", srv.LogFile()).Msg("managed clickhouse started")
	}
	d.chDSN = dsn
	store, err := chstore.Open(ctx, chstore.Config{DSN: dsn, Cluster: d.cfg.ClickHouseCluster, Logger: d.log})
	if err != nil {
		return err
	}
	d.store = store
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating clickhouse: %w", err)
	}
	return nil
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

// loadPriceBook loads --price-book, or the shipped one.
func (d *Daemon) loadPriceBook() (*pricebook.Book, error) {
	if d.cfg.PriceBook == "" {
		return pricebook.Default(), nil
	}
	return pricebook.Load(d.cfg.PriceBook)
}

// keepPriceBooks stores book in ClickHouse under its version, unless it is
// there already (a changed book under a version already used is refused),
// and loads every version Tally ever ran with, for billing to re-rate
// closed months with the version they were billed under.
func (d *Daemon) keepPriceBooks(ctx context.Context, book *pricebook.Book) error {
	books, err := pricebook.Keep(ctx, d.store.Invoices(), book, d.cfg.Now())
	if err != nil {
		return err
	}
	d.books = books
	d.log.Info().Str("price_book", book.Version).Strs("versions", books.Versions()).Msg("price books loaded")
	return nil
}

// buildBilling wires the billing service, with a Stripe sender when a key
// is configured (a dry run otherwise).
func (d *Daemon) buildBilling(reg prometheus.Registerer, book *pricebook.Book, rejecter billing.EventRejecter, notifier billing.Notifier) (*billing.Service, error) {
	invoices := d.store.Invoices()
	cfg := billing.Config{
		Rejecter: rejecter, Notifier: notifier,
		Book: book, Books: d.books, Activity: d.store.Events(),
		Invoices: invoices, Periods: invoices, Customers: invoices,
		Now: d.cfg.Now, Logger: d.log, Metrics: billing.NewMetrics(reg),
	}
	if d.stripe != nil { // a nil sender in the interface would not be a dry run
		cfg.Sender = stripesync.NewInvoiceSender(d.stripe)
	}
	return billing.New(cfg)
}

// storedRejecter dead-letters stored events: it reads them back from
// ClickHouse and publishes them to the dead-letter stream with the reason,
// under the message id of their events-stream sequence (so twice is once
// within JetStream's duplicate window), and skips those the dead-letter
// store holds already (so twice is once after it: billing rejects the
// subscription changes it leaves out at every close). Every stored event,
// HTTP or NATS, came from the events stream (the one hop), so its row's
// stream_seq is its origin sequence there; the origin subject named is the
// type's, also for an event an emitter published under tally.ingest.
type storedRejecter struct {
	events *chstore.Events
	dlq    *pipeline.DeadLetters
}

func (r *storedRejecter) RejectStored(ctx context.Context, seqs []uint64, reason string) error {
	done, err := r.events.DeadLettered(ctx, pipeline.EventsStream, seqs)
	if err != nil {
		return err
	}
	seqs = slices.DeleteFunc(slices.Clone(seqs), func(seq uint64) bool { return done[seq] })
	events, err := r.events.EventsBySeq(ctx, seqs)
	if err != nil {
		return err
	}
	for _, e := range events {
		m := &consumers.Message{Stream: pipeline.EventsStream, StreamSeq: e.Seq,
			Subject: pipeline.EventsSubjectPrefix + e.Type, Data: e.Payload}
		if err := r.dlq.PublishDeadLetter(ctx, m, errors.New(reason)); err != nil {
			return err
		}
	}
	return nil
}

// servePprof serves the profiling endpoints until ctx ends.
func (d *Daemon) servePprof(g *errgroup.Group, ctx context.Context) error {
	ln, err := net.Listen("tcp", d.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("listening for pprof on %s: %w", d.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.Go(func() error {
		<-ctx.Done()
		return srv.Close()
	})
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving pprof: %w", err)
		}
		return nil
	})
	d.log.Info().Str("addr", ln.Addr().String()).Msg("pprof serving")
	return nil
}

// ready reports whether events can be taken: JetStream must answer.
func (d *Daemon) ready(ctx context.Context) error {
	if !d.nc.IsConnected() {
		return errors.New("nats not connected")
	}
	if _, err := d.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return d.disk.Admit()
}

// dirSize is the size of the files under dir (0 if it does not exist).
func dirSize(dir string) uint64 {
	var n uint64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += uint64(info.Size())
			}
		}
		return nil
	})
	return n
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
