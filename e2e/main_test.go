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
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/internal/stripemock"
)

// launcherEnv makes the test binary act as the managed ClickHouse launcher.
const launcherEnv = "TALLY_E2E_CH_LAUNCHER"

// sharedCH is one ClickHouse server for the package; each test gets its own
// database in it, except the tests of the managed mode itself.
var sharedCH *chlocal.Server

// stripeMockURL is a real stripe-mock for the package.
var stripeMockURL string

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role)) // a NATS node or a replica of cluster_test.go
	}
	if os.Getenv(launcherEnv) == "1" {
		args := os.Args[1:]
		if len(args) > 0 && args[0] == daemon.LauncherCommand {
			args = args[1:] // the daemon's managed mode names the subcommand
		}
		if err := chlocal.RunLauncher(args); err != nil {
			fmt.Fprintln(os.Stderr, "launcher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tally-e2e-ch-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err := chlocal.Start(context.Background(), chlocal.Config{
		DataDir:    dir,
		Executable: os.Args[0],
		Env:        []string{launcherEnv + "=1"},
		Logger:     zerolog.New(os.Stderr).Level(zerolog.WarnLevel),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting clickhouse:", err)
		return 1
	}
	sharedCH = srv
	sm, err := stripemock.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting stripe-mock:", err)
		return 1
	}
	stripeMockURL = sm.URL
	defer sm.Stop()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	}()
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
