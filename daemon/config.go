package daemon

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/pipeline"
)

// Config is everything `tally run` needs. Flags and TALLY_* environment
// variables map one to one onto its fields (see cmd/tally).
type Config struct {
	// HTTPAddr is where the API listens (default 127.0.0.1:8080).
	HTTPAddr string
	// DataDir holds the embedded NATS store, the managed ClickHouse data
	// and the dev keys file (default ./.tally).
	DataDir string
	// KeysFile is the API keys file. Empty on a loopback HTTPAddr: a dev
	// keys file is created in DataDir. Empty elsewhere: start is refused.
	KeysFile string
	// NATSURL of an external NATS server or cluster; empty runs an
	// embedded server storing in DataDir/nats.
	NATSURL string
	// NATSListen is the client address of the embedded NATS server, for
	// emitters that publish directly (default 127.0.0.1:4222).
	NATSListen string
	// ClickHouseDSN of an external ClickHouse; empty starts and supervises
	// a local server from libchdb.so, storing in DataDir/clickhouse.
	ClickHouseDSN string
	// ChdbLib is the path to libchdb.so (default: found by chlocal).
	ChdbLib string
	// ClickHouseCluster renders the schema for this ClickHouse cluster
	// (ON CLUSTER, Replicated tables, Distributed tables; see
	// docs/clickhouse.md). Needs ClickHouseDSN: the managed local
	// ClickHouse is a single server.
	ClickHouseCluster string
	// StripeKey, StripeAPIBase and PriceBook are taken now and used by
	// billing; with no Stripe key invoices and payouts are a dry run.
	StripeKey     string
	StripeAPIBase string
	PriceBook     string
	// StripeAttemptTimeout bounds one Stripe HTTP attempt (0: stripesync's
	// default, 30s); a timed-out attempt is retried under the same
	// idempotency key.
	StripeAttemptTimeout time.Duration

	// MinFreeDisk is the free space of the data dir's file system below
	// which ingest answers 503 (see pipeline.DiskGuardConfig.MinFree: a
	// size, a percentage, "0" for off; empty: the smaller of 1 GiB and
	// 5 %). DiskCheckInterval is how often it is read (default 5s).
	MinFreeDisk       string
	DiskCheckInterval time.Duration

	// CloseGrace is how long after a month ends the scheduler closes it,
	// waiting for late events (default 1h). NoScheduler turns the
	// scheduled close off (closes then happen only on request).
	CloseGrace  time.Duration
	NoScheduler bool
	// PayoutSchedule is when payout runs happen: monthly (the 1st, 00:00
	// UTC; default) or weekly (Mondays, 00:00 UTC).
	PayoutSchedule string

	// Topology sets stream limits.
	Topology pipeline.TopologyConfig
	// SinkMaxBatch and SinkMaxWait tune the ClickHouse sink batches.
	SinkMaxBatch int
	SinkMaxWait  time.Duration
	// AckWait is how long JetStream waits for a consumer's ack before it
	// redelivers, e.g. the batch of a replica that was killed (default 2m;
	// every replica must use the same value).
	AckWait time.Duration
	// BarrierTimeout bounds the read-your-writes barrier: how long a close,
	// a payout run or a read waits for the events acknowledged before it
	// to be stored before answering 503 (default 30s; SPEC §5).
	BarrierTimeout time.Duration
	// SchedulerCheck is how often the close and payout schedulers look and
	// renew their lease (default 1m; it must stay well below the lease's 2m).
	SchedulerCheck time.Duration

	// LauncherExecutable and LauncherArgs start the managed ClickHouse
	// child (default: this binary with the hidden launcher subcommand).
	LauncherExecutable string
	LauncherArgs       []string
	LauncherEnv        []string

	// PprofAddr serves net/http/pprof on a separate loopback listener for
	// profiling (empty: off).
	PprofAddr string

	// WebhooksAllowLocal lets webhook endpoints use http and loopback or
	// private addresses (tests and development only; link-local stays
	// refused). WebhooksBackoff replaces the retry schedule (tests).
	WebhooksAllowLocal bool
	WebhooksBackoff    []time.Duration
	// ShutdownTimeout bounds the graceful shutdown (default 30s).
	ShutdownTimeout time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger zerolog.Logger
}

// LauncherCommand is the hidden subcommand that runs the managed ClickHouse.
const LauncherCommand = "__clickhouse-server"

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = ".tally"
	}
	if c.NATSListen == "" {
		c.NATSListen = "127.0.0.1:4222"
	}
	if len(c.LauncherArgs) == 0 {
		c.LauncherArgs = []string{LauncherCommand}
	}
	if c.PayoutSchedule == "" {
		c.PayoutSchedule = "monthly"
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = time.Hour
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.BarrierTimeout <= 0 {
		c.BarrierTimeout = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c.setDefaults()
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http address %q: %w", c.HTTPAddr, err)
	}
	if c.KeysFile == "" && !isLoopback(host) {
		return fmt.Errorf("%w: %s is not a loopback address", ErrNoKeys, c.HTTPAddr)
	}
	if c.PayoutSchedule != "monthly" && c.PayoutSchedule != "weekly" {
		return fmt.Errorf("payout schedule %q: want monthly or weekly", c.PayoutSchedule)
	}
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	if c.ClickHouseCluster != "" {
		if c.ClickHouseDSN == "" {
			return fmt.Errorf("%w: the managed local ClickHouse is a single server", ErrClusterNeedsDSN)
		}
		if err := chstore.ValidateClusterName(c.ClickHouseCluster); err != nil {
			return err
		}
	}
	return nil
}

// ErrClusterNeedsDSN refuses a ClickHouse cluster without an external DSN.
var ErrClusterNeedsDSN = errors.New("--clickhouse-cluster needs --clickhouse-dsn")

// ErrNoKeys refuses to serve a non-loopback address without a keys file.
var ErrNoKeys = errors.New("a keys file (--keys-file) is required")

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DevKeysPath is where a dev keys file is created.
func (c Config) DevKeysPath() string { return filepath.Join(c.DataDir, "keys.json") }
