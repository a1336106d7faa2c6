package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/internal/tallyproc"
)

// Timeouts of the tally child's life cycle.
const (
	startTimeout = 2 * time.Minute
	// stopTimeout covers tally's own graceful shutdown (30s) and the
	// managed ClickHouse's.
	stopTimeout = 45 * time.Second
)

// tallyProc is a running `tally run` child on a fresh data dir, with
// embedded NATS and managed ClickHouse on free loopback ports.
type tallyProc struct {
	*tallyproc.Tally
	dataDir   string
	keep      bool
	ingestKey string
	chPID     int // the managed ClickHouse child
}

// tallyOptions say how to start tally.
type tallyOptions struct {
	bin   string
	args  []string // extra flags for `tally run`
	keep  bool     // keep the data dir
	label string   // names the data dir
}

// startTally starts tally and returns once it is serving. On error,
// whatever was started is stopped again; otherwise the caller must call
// stop.
func startTally(ctx context.Context, opts tallyOptions) (*tallyProc, error) {
	dir, err := os.MkdirTemp("", "tally-bench-"+opts.label+"-")
	if err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	tp := &tallyProc{dataDir: dir, keep: opts.keep}
	if err := tp.start(ctx, opts); err != nil {
		_ = tp.stop()
		return nil, err
	}
	return tp, nil
}

func (tp *tallyProc) start(ctx context.Context, opts tallyOptions) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t, err := tallyproc.Start(ctx, tallyproc.Config{
		Bin:        opts.bin,
		DataDir:    tp.dataDir,
		HTTPAddr:   "127.0.0.1:0",
		NATSListen: "127.0.0.1:0",
		Args:       opts.args,
		LogPath:    filepath.Join(tp.dataDir, "tally.log"),
		// Tally runs on its defaults (embedded NATS, managed ClickHouse)
		// whatever the developer's shell exports; only the libchdb
		// location is kept.
		Env: tallyproc.Env("TALLY_CHDB_LIB"),
		// Own process group: a Ctrl-C on the terminal reaches tally-bench
		// only, which then stops tally itself. The death signal stops
		// tally if tally-bench dies without doing so.
		OwnGroup:    true,
		DeathSignal: syscall.SIGTERM,
	})
	if err != nil {
		return err
	}
	tp.Tally = t
	switch {
	case t.NATSURL == "":
		return errors.New("starting tally: no embedded nats url in its log (was --nats-url set?)")
	case t.ClickHouseDSN == "":
		return errors.New("starting tally: no managed clickhouse dsn in its log (was --clickhouse-dsn set?)")
	}
	if tp.ingestKey, err = t.Key(auth.RoleIngest); err != nil {
		return err
	}
	if !tp.findClickHouse() {
		return errors.New("finding the managed clickhouse process: none runs on " + tp.dataDir)
	}
	return nil
}

// findClickHouse sets chPID to the managed ClickHouse of the data dir (the
// supervisor may have restarted it) and reports whether there is one.
func (tp *tallyProc) findClickHouse() bool {
	pids := tallyproc.ClickHousePIDs(tp.dataDir)
	if len(pids) > 0 {
		tp.chPID = pids[0]
	}
	return len(pids) > 0
}

// checkAlive returns an error once tally has exited.
func (tp *tallyProc) checkAlive() error {
	if tp.Exited() {
		return fmt.Errorf("tally exited (%v); last log lines:\n%s", tp.Err(), tp.Tail(tailLines))
	}
	return nil
}

// peakRSS returns the peak RSS of tally and of its ClickHouse child.
func (tp *tallyProc) peakRSS() (tally, clickhouse int64, err error) {
	if _, tally, err = tallyproc.Memory(tp.Pid()); err != nil {
		return 0, 0, err
	}
	tp.findClickHouse()
	_, clickhouse, err = tallyproc.Memory(tp.chPID)
	return tally, clickhouse, err
}

// stop sends SIGTERM, waits for tally to exit (SIGKILL after stopTimeout),
// makes sure its ClickHouse child is gone too, and removes the data dir
// unless it is to be kept. It returns tally's exit error, if any.
func (tp *tallyProc) stop() error {
	defer tp.cleanup()
	if tp.Tally == nil {
		return nil
	}
	tp.findClickHouse()
	err := tp.Stop(stopTimeout)
	exit := tp.Err()
	if exit != nil && isSignalExit(exit) && tp.logSummary().shutdown {
		exit = nil
	}
	return errors.Join(exit, err)
}

func (tp *tallyProc) cleanup() {
	if !tp.keep {
		_ = os.RemoveAll(tp.dataDir)
	}
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Exited()
}

const (
	tailLines    = 30
	keptWarnings = 10
)

// logSummary is what tally-bench reads from tally's JSON log: the warn
// and error lines logged while serving (after "tally is serving", before
// "shutting down"), the first few of them, and whether it shut down.
type logSummary struct {
	warnings int
	first    []string
	shutdown bool
}

func (tp *tallyProc) logSummary() logSummary {
	var s logSummary
	started := false
	_ = tp.ReadLog(func(line string, fields map[string]any) {
		msg, _ := fields["message"].(string)
		level, _ := fields["level"].(string)
		if msg == "tally is serving" {
			started = true
		}
		if msg == "shutting down" {
			s.shutdown = true
		}
		if (level == "warn" || level == "error") && started && !s.shutdown {
			s.warnings++
			if len(s.first) < keptWarnings {
				s.first = append(s.first, line)
			}
		}
	})
	return s
}

// warningCount returns the number of warn and error lines logged while
// serving (before shutdown), and the first few of them.
func (tp *tallyProc) warningCount() (int, []string) {
	s := tp.logSummary()
	return s.warnings, s.first
}
