// Package chlocaltest gives a package's tests a real ClickHouse server from
// libchdb, started once in TestMain. The server's child process is the
// test binary itself, re-run as the launcher:
//
//	func TestMain(m *testing.M) { chlocaltest.Main(m, "mypkg", &srv) }
//
// or, where TestMain does more:
//
//	func TestMain(m *testing.M) {
//		chlocaltest.ServeIfLauncher("")
//		srv, stop, err := chlocaltest.Start("mypkg")
//		...
//		code := m.Run()
//		stop()
//		os.Exit(code)
//	}
package chlocaltest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chlocal"
)

// launcherEnv makes the test binary act as the ClickHouse launcher.
const launcherEnv = "TALLY_TEST_CH_LAUNCHER"

// LauncherEnv is the environment of a child that must run as the launcher:
// for Start, and for a daemon under test that manages its own server with
// this binary as its launcher executable.
func LauncherEnv() []string {
	// The race detector's exit delay would slow every server stop.
	return []string{launcherEnv + "=1", "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")}
}

// ServeIfLauncher runs the ClickHouse server and exits when this process
// was started as the launcher; otherwise it returns at once. Call it first
// in TestMain. subcommand, when not empty, is a first argument to drop (a
// daemon starts its launcher with the name of its hidden subcommand).
func ServeIfLauncher(subcommand string) {
	if os.Getenv(launcherEnv) != "1" {
		return
	}
	args := os.Args[1:]
	if subcommand != "" && len(args) > 0 && args[0] == subcommand {
		args = args[1:]
	}
	if err := chlocal.RunLauncher(args); err != nil {
		fmt.Fprintln(os.Stderr, "clickhouse launcher:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Start starts a server in a new temporary directory named after prefix.
// stop stops it and removes the directory.
func Start(prefix string) (srv *chlocal.Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "tally-"+prefix+"-ch-")
	if err != nil {
		return nil, nil, err
	}
	srv, err = chlocal.Start(context.Background(), chlocal.Config{
		DataDir:    dir,
		Executable: os.Args[0],
		Env:        LauncherEnv(),
		Logger:     zerolog.New(os.Stderr).Level(zerolog.WarnLevel),
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("starting clickhouse: %w", err)
	}
	return srv, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
		_ = os.RemoveAll(dir)
	}, nil
}

// Main is the whole TestMain of a package whose tests share one server:
// it serves as the launcher when asked to, starts a server named after
// prefix, sets *srv, runs the tests, stops the server and exits with their
// code (1, with the reason, when the server does not start).
func Main(m *testing.M, prefix string, srv **chlocal.Server) {
	ServeIfLauncher("")
	s, stop, err := Start(prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	stop()
	os.Exit(code)
}
