package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/pipeline"
)

// defaultMemoryLimitMiB keeps tally (with its embedded NATS server) under
// 1 GiB: the garbage collector works harder near the limit instead of
// letting the heap grow to twice the live data. The batches and buffers
// are bounded; the limit takes care of the garbage between collections.
const defaultMemoryLimitMiB = 768

// applyMemoryLimit sets the Go runtime's soft memory limit, unless the
// GOMEMLIMIT environment variable already did.
func applyMemoryLimit(mib int64, log zerolog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" || mib <= 0 {
		return
	}
	debug.SetMemoryLimit(mib << 20)
	log.Debug().Int64("mib", mib).Msg("memory limit set")
}

func newRunCmd() *cobra.Command {
	var cfg daemon.Config
	var logLevel string
	var memoryLimitMiB int64
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the Tally daemon (HTTP ingest, consumers, API)",
		Long: `Run the Tally daemon.

With no --nats-url, an embedded NATS server with JetStream stores in the data
dir. With no --clickhouse-dsn, a local ClickHouse server is started from
libchdb.so (run "make chdb" once) and stores in the data dir. With no
--keys-file on a loopback address, a dev keys file is created in the data dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			cfg.Logger = log
			applyMemoryLimit(memoryLimitMiB, log)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			d, err := daemon.Start(ctx, cfg)
			if err != nil {
				return err
			}
			waitErr := make(chan error, 1)
			go func() { waitErr <- d.Wait() }()
			select {
			case <-ctx.Done():
				log.Info().Msg("shutting down")
			case err := <-waitErr:
				if err != nil {
					log.Error().Err(err).Msg("a part failed; shutting down")
				}
			}
			return d.Stop(context.Background())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP API")
	f.StringVar(&cfg.DataDir, "data-dir", ".tally", "directory for the embedded NATS store, managed ClickHouse data and dev keys")
	f.StringVar(&cfg.KeysFile, "keys-file", "", "API keys file (see docs/keys.md); required on a non-loopback address")
	f.StringVar(&cfg.NATSURL, "nats-url", "", "external NATS server or cluster; empty embeds one")
	f.StringVar(&cfg.NATSListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server")
	f.StringVar(&cfg.ClickHouseDSN, "clickhouse-dsn", "", "external ClickHouse DSN; empty starts a managed local server")
	f.StringVar(&cfg.ClickHouseCluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers name) to create Replicated and Distributed tables on; needs --clickhouse-dsn")
	f.StringVar(&cfg.ChdbLib, "chdb-lib", "", "path to libchdb.so for the managed ClickHouse (default: .cache/chdb)")
	f.StringVar(&cfg.StripeKey, "stripe-key", "", "Stripe secret key; empty is a dry run (nothing sent)")
	f.StringVar(&cfg.StripeAPIBase, "stripe-api-base", "", "Stripe API base URL (e.g. stripe-mock in tests)")
	f.DurationVar(&cfg.StripeAttemptTimeout, "stripe-attempt-timeout", 30*time.Second, "longest wait for one Stripe HTTP attempt before it is retried under the same idempotency key")
	f.StringVar(&cfg.PriceBook, "price-book", "", "price book file (default: the shipped price book)")
	f.DurationVar(&cfg.Topology.DedupWindow, "dedup-window", pipeline.DefaultDedupWindow, "JetStream duplicate window (its ids are kept in memory)")
	f.IntVar(&cfg.Topology.Replicas, "stream-replicas", 1, "replicas of Tally's streams and lease bucket (3 on a NATS cluster)")
	f.IntVar(&cfg.SinkMaxBatch, "sink-max-batch", 5000, "most events per ClickHouse insert")
	f.DurationVar(&cfg.SinkMaxWait, "sink-max-wait", 200*time.Millisecond, "longest wait to fill a ClickHouse insert")
	f.DurationVar(&cfg.BarrierTimeout, "barrier-timeout", 30*time.Second, "how long a close, a payout run or a read waits for the events acknowledged before it to be stored, before answering 503")
	f.DurationVar(&cfg.AckWait, "ack-wait", 2*time.Minute, "how long JetStream waits for a consumer's ack before redelivering (e.g. the batches of a killed process); must exceed the worst batch handling time")
	f.DurationVar(&cfg.CloseGrace, "close-grace", time.Hour, "wait after a month ends before the scheduled close, for late events")
	f.BoolVar(&cfg.NoScheduler, "no-scheduler", false, "do not close periods or run payouts on schedule (only on request)")
	f.StringVar(&cfg.PayoutSchedule, "payout-schedule", "monthly", "payout runs: monthly (1st, 00:00 UTC) or weekly (Mondays, 00:00 UTC)")
	f.StringVar(&cfg.MinFreeDisk, "min-free-disk", "", "free space of the data dir's file system below which ingest answers 503: a size (512MiB, 2GiB), a percentage (5%) or 0 for off; default the smaller of 1GiB and 5%")
	f.DurationVar(&cfg.DiskCheckInterval, "disk-check-interval", 5*time.Second, "how often the free space of the data dir is read")
	f.BoolVar(&cfg.WebhooksAllowLocal, "webhooks-allow-local", false, "let webhook endpoints use http and loopback or private addresses (tests and development only; link-local is always refused)")
	f.DurationSliceVar(&cfg.WebhooksBackoff, "webhooks-backoff", nil, "webhook retry delays, the last repeating (default 5s,5m,30m,2h,5h,10h,10h; shorter for tests)")
	f.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve /debug/pprof on this address (empty: off)")
	f.Int64Var(&memoryLimitMiB, "memory-limit-mib", defaultMemoryLimitMiB, "soft memory limit of the process in MiB, for the Go garbage collector (0: none; GOMEMLIMIT wins when set)")
	f.StringVar(&logLevel, "log-level", "info", "log level (trace, debug, info, warn, error)")
	annotateEnv(cmd)
	return cmd
}
