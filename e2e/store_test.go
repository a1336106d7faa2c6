package e2e

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chstore"
)

// TestMigrationsAreIdempotentAndRecorded migrates a fresh database twice
// and checks each migration is applied and recorded once.
func TestMigrationsAreIdempotentAndRecorded(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	migs, err := chstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i := 0; i < 2; i++ {
		if err := store.Migrate(ctx); err != nil {
			t.Fatalf("migration run %d: %v", i+1, err)
		}
	}
	applied, err := store.AppliedMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if applied[m.Version] != m.Name {
			t.Errorf("migration %d (%s) recorded as %q", m.Version, m.Name, applied[m.Version])
		}
	}
	var rows uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM tally_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(len(migs)) {
		t.Fatalf("%d rows in tally_migrations for %d migrations: a second run recorded again", rows, len(migs))
	}
	for _, table := range []string{"events", "event_ids", "dead_letters", "price_books"} {
		var n uint64
		if err := store.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d, %v", table, n, err)
		}
	}
}

// openStore opens a store on a fresh database, not migrated yet, and
// closes it at the end of the test.
func openStore(t *testing.T) *chstore.Store {
	t.Helper()
	store, err := chstore.Open(context.Background(), chstore.Config{DSN: newDatabase(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}
