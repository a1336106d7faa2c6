package chlocal_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chlocal"
)

const (
	// launcherEnv makes the test binary act as the launcher: the server's
	// child process is this same binary.
	launcherEnv = "TALLY_CHLOCAL_LAUNCHER"
	// orphanParentEnv makes the test binary start a server in DataDir
	// $TALLY_CHLOCAL_ORPHAN_PARENT, print the child's pid and wait to be
	// killed (see TestChildExitsWhenParentDies).
	orphanParentEnv = "TALLY_CHLOCAL_ORPHAN_PARENT"
)

func TestMain(m *testing.M) {
	if os.Getenv(launcherEnv) == "1" {
		if err := chlocal.RunLauncher(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "chlocal launcher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv(orphanParentEnv); dir != "" {
		os.Exit(runOrphanParent(dir))
	}
	os.Exit(m.Run())
}

// launcherConfig is the part of Config that makes this test binary the
// child.
func launcherConfig(dataDir string) chlocal.Config {
	return chlocal.Config{
		DataDir:    dataDir,
		Executable: os.Args[0],
		Env: []string{
			launcherEnv + "=1",
			// A -race child otherwise sleeps 1 s on exit, slowing every Stop.
			"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
		},
	}
}

// runOrphanParent starts a server, reports the child's pid on stdout and
// blocks until it is killed, leaving the child behind.
func runOrphanParent(dataDir string) int {
	cfg := launcherConfig(dataDir)
	cfg.Logger = zerolog.New(os.Stderr)
	srv, err := chlocal.Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orphan parent:", err)
		return 1
	}
	fmt.Printf("PID %d %s\n", srv.PID(), srv.HTTPURL())
	wait := make(chan os.Signal, 1)
	signal.Notify(wait, syscall.SIGTERM)
	<-wait
	return 0
}
