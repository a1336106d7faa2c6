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
	Logger       zerolog.Logger
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.DSN == "" {
		return errors.New("chstore: DSN is required")
	}
	return nil
}

// Store is a connection pool to ClickHouse with Tally's queries.
type Store struct {
	conn driver.Conn
	log  zerolog.Logger
}

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
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse: %w", err)
	}
	s := &Store{conn: conn, log: cfg.Logger.With().Str("component", "chstore").Logger()}
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

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }
