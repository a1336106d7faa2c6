package chstore

import (
	"context"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Ledger is the payouts' side of the store: the marketplace ledger, the
// payouts with their statements and runs, and the ledger snapshots
// (migrations 0003, 0007 and 0010). It shares the connection pool of the
// Store it comes from; the payouts service reads the marketplace events
// from Events.
type Ledger struct {
	conn   driver.Conn
	events *Events // the marketplace events a balance reads after a snapshot
	// latest is the header of the latest snapshot known, for the balance
	// reads (see ProviderState).
	latest struct {
		sync.Mutex
		head snapshotHead
		read time.Time // when it was read or stored; zero: none known
	}
}

// snapshotHead is the header row of a stored snapshot.
type snapshotHead struct {
	at, savedAt time.Time
	position    uint64
}

// headerTTL is how long a balance read trusts the latest snapshot header
// it knows before it reads it again: a snapshot stored by another Tally
// process is seen that much later. Any whole snapshot at or before a
// balance's instant gives the same balance (one more delta to read), and
// snapshots are never deleted, so an older header only costs time.
const headerTTL = time.Second

// knownHeader returns the latest snapshot header known, if it is recent
// and at or before asOf.
func (s *Ledger) knownHeader(asOf time.Time) (snapshotHead, bool) {
	s.latest.Lock()
	defer s.latest.Unlock()
	h := s.latest.head
	ok := !s.latest.read.IsZero() && time.Since(s.latest.read) < headerTTL && !h.at.After(asOf)
	return h, ok
}

// learnHeader keeps h as the latest snapshot header known unless a later
// one is known.
func (s *Ledger) learnHeader(h snapshotHead) {
	s.latest.Lock()
	defer s.latest.Unlock()
	if s.latest.read.IsZero() || !h.at.Before(s.latest.head.at) {
		s.latest.head, s.latest.read = h, time.Now()
	}
}

// Ledger returns the payouts' side of the store, on the same connections.
func (s *Store) Ledger() *Ledger { return &Ledger{conn: s.conn, events: s.Events()} }

func (s *Ledger) latestVersions(ctx context.Context, table, idColumn string, ids []string) (map[string]uint64, error) {
	return latestVersions(ctx, s.conn, table, idColumn, ids)
}
