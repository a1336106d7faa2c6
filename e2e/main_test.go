// Package e2e holds Tally's end-to-end tests: the real daemon, real
// embedded NATS JetStream and a real ClickHouse server (the managed local
// one from libchdb), driven over HTTP and NATS like a user would.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/internal/stripemock"
)

// sharedCH is one ClickHouse server for the package; each test gets its own
// database in it, except the tests of the managed mode itself.
var sharedCH *chlocal.Server

// stripeMockURL is a real stripe-mock for the package.
var stripeMockURL string

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role)) // a NATS node or a replica of cluster_test.go
	}
	chlocaltest.ServeIfLauncher(daemon.LauncherCommand)
	os.Exit(run(m))
}

func run(m *testing.M) int {
	srv, stopCH, err := chlocaltest.Start("e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopCH()
	sharedCH = srv
	sm, err := stripemock.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting stripe-mock:", err)
		return 1
	}
	stripeMockURL = sm.URL
	defer sm.Stop()
	return m.Run()
}

// newDatabase creates an empty database in the shared server and returns
// its DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	opts, err := clickhouse.ParseDSN(sharedCH.DSN())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database: %v", err)
	}
	return fmt.Sprintf("clickhouse://%s/%s", opts.Addr[0], name)
}
