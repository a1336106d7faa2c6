package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Checking of the events table.
const (
	// settleTime is how long the count must stay exact after reaching the
	// target: a late second insert of some events would show up here.
	settleTime = time.Second
	// deadLetterCheck is how often waitStored looks for dead letters: an
	// event tally refused will never be stored, so waiting is pointless.
	deadLetterCheck = time.Second
)

// store reads Tally's ClickHouse events table.
type store struct {
	conn driver.Conn
}

func openStore(ctx context.Context, dsn string) (*store, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing clickhouse dsn: %w", err)
	}
	opts.MaxOpenConns = 2
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("pinging clickhouse: %w", err)
	}
	return &store{conn: conn}, nil
}

func (s *store) close() { _ = s.conn.Close() }

// count returns the number of rows in events (no FINAL: a row stored twice
// counts twice).
func (s *store) count(ctx context.Context) (uint64, error) {
	return s.queryUint(ctx, "SELECT count() FROM events")
}

func (s *store) queryUint(ctx context.Context, query string) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("querying %q: %w", query, err)
	}
	return n, nil
}

// checkNoDeadLetters fails when tally has dead-lettered any event.
func (s *store) checkNoDeadLetters(ctx context.Context) error {
	n, err := s.queryUint(ctx, "SELECT count() FROM dead_letters")
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d events were dead-lettered (see the dead_letters table; rerun with -keep to inspect it)", n)
	}
	return nil
}

// sample is one poll of the stored count.
type sample struct {
	at    time.Time
	count uint64
}

// waitSpec says what waitStored waits for.
type waitSpec struct {
	target uint64
	// interval is the time between polls.
	interval time.Duration
	// stall fails the wait when the count has not moved for this long.
	stall time.Duration
	// alive reports an error when the pipeline died.
	alive func() error
	// observe sees every poll.
	observe func(sample)
}

// waitStored polls the count every spec.interval until it reaches
// spec.target and returns the time of the first poll that saw it.
func (s *store) waitStored(ctx context.Context, spec waitSpec) (time.Time, error) {
	tick := time.NewTicker(spec.interval)
	defer tick.Stop()
	var last uint64
	lastMove, lastDLQ := time.Now(), time.Now()
	for {
		n, err := s.count(ctx)
		now := time.Now()
		if err != nil {
			return now, err
		}
		if spec.observe != nil {
			spec.observe(sample{at: now, count: n})
		}
		switch {
		case n == spec.target:
			return now, nil
		case n > spec.target:
			return now, fmt.Errorf("%d events stored, %d sent: some were stored twice", n, spec.target)
		case n != last:
			last, lastMove = n, now
		case now.Sub(lastMove) > spec.stall:
			return now, fmt.Errorf("stored count stuck at %d of %d for %s", n, spec.target, spec.stall)
		}
		if spec.alive != nil {
			if err := spec.alive(); err != nil {
				return now, err
			}
		}
		if now.Sub(lastDLQ) > deadLetterCheck {
			lastDLQ = now
			if err := s.checkNoDeadLetters(ctx); err != nil {
				return now, err
			}
		}
		select {
		case <-ctx.Done():
			return now, ctx.Err()
		case <-tick.C:
		}
	}
}

// verifyExact checks, after settleTime, that events holds exactly n rows
// and n distinct identities: nothing lost, nothing stored twice.
func (s *store) verifyExact(ctx context.Context, n uint64) error {
	if !sleepCtx(ctx, settleTime) {
		return ctx.Err()
	}
	rows, err := s.count(ctx)
	if err != nil {
		return err
	}
	ids, err := s.queryUint(ctx, "SELECT uniqExact(source, id) FROM events")
	if err != nil {
		return err
	}
	if rows != n || ids != n {
		return fmt.Errorf("verifying events: %d rows and %d identities stored, want %d", rows, ids, n)
	}
	return nil
}
