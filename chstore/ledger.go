package chstore

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Ledger is the payouts' side of the store: the marketplace ledger, the
// payouts with their statements and runs, and the ledger snapshots
// (migrations 0003, 0007 and 0010). It shares the connection pool of the
// Store it comes from; the payouts service reads the marketplace events
// from the Store itself.
type Ledger struct {
	conn  driver.Conn
	store *Store
}

// Ledger returns the payouts' side of the store, on the same connections.
func (s *Store) Ledger() *Ledger { return &Ledger{conn: s.conn, store: s} }

func (s *Ledger) latestVersions(ctx context.Context, table, idColumn string, ids []string) (map[string]uint64, error) {
	return s.store.latestVersions(ctx, table, idColumn, ids)
}
