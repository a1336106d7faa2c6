package chstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog"
)

// Config configures the store.
type Config struct {
	// DSN in clickhouse-go form, e.g. clickhouse://user:pass@host:9000/db.
	DSN string
	// DialTimeout bounds each connection attempt (default 5s).
	DialTimeout time.Duration
	// MaxOpenConns bounds the connection pool (default 8).
	MaxOpenConns int
	// Cluster is the ClickHouse cluster (<remote_servers> name) the schema
	// is rendered for: Replicated tables created ON CLUSTER with a
	// Distributed table under each name Tally queries (see cluster.go).
	// Empty: one server, plain tables.
	Cluster string
	Logger  zerolog.Logger
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.DSN == "" {
		return errors.New("chstore: DSN is required")
	}
	if c.Cluster != "" {
		if err := ValidateClusterName(c.Cluster); err != nil {
			return fmt.Errorf("chstore: %w", err)
		}
	}
	return nil
}

// Store is the connection pool to ClickHouse: it opens, migrates and
// closes it, and hands out the stores of each domain, which share it:
//
//   - [Events]: the event and dead-letter sinks' inserts, the identity
//     lookup, the usage queries, billing's activity, stored events read
//     back for dead-lettering, the marketplace events payouts read
//     (marketplace_events.go);
//   - [Invoices]: billing's invoices, closed periods, Stripe customer ids
//     and price books;
//   - [Finance]: the finance report and trend;
//   - [Ledger]: the marketplace ledger, payouts and runs, the ledger
//     snapshots (ledger.go, payouts.go, snapshots.go).
type Store struct {
	conn    driver.Conn
	log     zerolog.Logger
	cluster string
}

// Events stores and reads events: it implements consumers.EventStore and
// consumers.DeadLetterStore, billing.ActivitySource, the API's usage
// reads, and payouts' EventSource and LaterEvents (marketplace_events.go).
type Events struct{ conn driver.Conn }

// Invoices keeps billing's records: it implements billing.InvoiceStore,
// billing.PeriodRecord, billing.CustomerIDs and pricebook.Archive.
type Invoices struct{ conn driver.Conn }

// Finance reads the finance views: the API's finance report and trend.
type Finance struct{ conn driver.Conn }

// Events returns the events store on s's pool.
func (s *Store) Events() *Events { return &Events{conn: s.conn} }

// Invoices returns billing's store on s's pool.
func (s *Store) Invoices() *Invoices { return &Invoices{conn: s.conn} }

// Finance returns the finance store on s's pool.
func (s *Store) Finance() *Finance { return &Finance{conn: s.conn} }

// Open connects to ClickHouse and checks the connection.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := clickhouse.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parsing clickhouse DSN: %w", err)
	}
	if cfg.DialTimeout > 0 {
		opts.DialTimeout = cfg.DialTimeout
	} else if opts.DialTimeout == 0 || opts.DialTimeout > 5*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	if cfg.MaxOpenConns > 0 {
		opts.MaxOpenConns = cfg.MaxOpenConns
	} else {
		opts.MaxOpenConns = 8
	}
	if cfg.Cluster != "" {
		// An insert into a Distributed table returns only once every shard
		// has stored its rows: the sink acknowledges JetStream after it.
		if opts.Settings == nil {
			opts.Settings = clickhouse.Settings{}
		}
		opts.Settings["distributed_foreground_insert"] = 1
		// The finance views filter and join Distributed tables with
		// subqueries on Distributed tables. GLOBAL runs each such subquery
		// once, over the whole cluster, and sends its result to the shards:
		// the answer a single server gives. ClickHouse's default refuses
		// these queries.
		opts.Settings["distributed_product_mode"] = "global"
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse: %w", err)
	}
	s := &Store{conn: conn, log: cfg.Logger.With().Str("component", "chstore").Logger(), cluster: cfg.Cluster}
	if err := s.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("pinging clickhouse: %w", err)
	}
	return nil
}

// Conn exposes the underlying connection for read-only tooling and tests.
func (s *Store) Conn() driver.Conn { return s.conn }

// Cluster is the ClickHouse cluster the schema is rendered for ("": one
// server).
func (s *Store) Cluster() string { return s.cluster }

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }
