// Package chstoretest gives tests a chstore.Store on a database of its
// own, with every migration applied, on a local ClickHouse server
// (chlocal/chlocaltest starts one per test binary).
package chstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chstore"
)

// Migrated creates a database named prefix and random hex on srv, and
// returns a store on it with every migration applied, closed when t ends.
func Migrated(t *testing.T, srv *chlocal.Server, prefix string) *chstore.Store {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	st, err := chstore.Open(ctx, chstore.Config{DSN: srv.DSN(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = chstore.Open(ctx, chstore.Config{DSN: strings.TrimSuffix(srv.DSN(), "/default") + "/" + name, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	return st
}
