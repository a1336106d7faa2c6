// Command tally-bench measures Tally's ingest pipeline end to end.
//
// It starts `tally run` as a child on its defaults (embedded NATS JetStream,
// managed ClickHouse, dev keys) in a fresh data dir for every phase, sends
// the same synthetic events in each, and waits until every one is queryable
// in ClickHouse, checking that exactly the events sent are stored:
//
//   - raw: async JetStream publish to a scratch file stream (the ceiling);
//   - nats: async publish to tally.ingest.bench, until all are stored;
//   - http: batches of 1,000 posted by concurrent workers, until all are stored;
//   - latency: NATS publishing paced at half the nats rate, publish→queryable
//     latency per chunk of events;
//   - entitlements: 2,000 entitlement checks/s while NATS ingest runs at
//     half the nats rate: check p50/p99 and freshness (202 → a check
//     showing the event);
//   - barrier: HTTP ingest paced at 20,000 events/s while a read-your-writes
//     barrier and a period re-close are timed every 500ms, against the same
//     with no load;
//   - close: a month of 10,000 tenants and 10,000,000 usage events, closed;
//   - payouts: a payout run for 10,000 KYC-verified providers;
//   - payouts-year: a year of marketplace history for 10,000 providers,
//     run monthly from ledger snapshots: the twelfth run and 1,000
//     single-provider balance reads;
//   - backlog (only when named): 10,000,000 events published over NATS,
//     for tally's peak RSS with that backlog.
//
// For each phase it reports events/s, the ratio to raw, latency, the peak
// RSS of tally and of its ClickHouse child, the CPU time used by each
// process (and by other load on the machine) and the peak backlog of
// tally's validator and sink. docs/performance.md has results and how to
// read them.
//
// Usage (or `make bench`):
//
//	go run ./cmd/tally-bench -events 1000000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "tally-bench:", err)
		}
		os.Exit(1)
	}
}

// errUsage is a bad command line; the flag package has said why.
var errUsage = errors.New("usage")

// bench is one run of tally-bench.
type bench struct {
	cfg    config
	stderr io.Writer
	now    time.Time
	events []event

	natsRate      float64 // events/s of the nats phase
	latencyRate   float64
	latencyEvents int
	barrierEvents int // events sent by the barrier phase
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.TallyBin); err != nil {
		return fmt.Errorf("finding the tally binary (run make build): %w", err)
	}
	b := &bench{cfg: cfg, stderr: stderr, now: time.Now()}
	if err := b.ensureEvents(cfg.Events); err != nil {
		return err
	}
	results, runErr := b.runPhases(ctx)
	if len(results) == 0 {
		return runErr
	}
	rep := newReport(cfg, args, results)
	var outErr error
	if cfg.JSON {
		// The table still goes to the human, on stderr.
		outErr = errors.Join(rep.writeTable(stderr), rep.writeJSON(stdout))
	} else {
		outErr = rep.writeTable(stdout)
	}
	return errors.Join(runErr, outErr)
}

// runPhases runs the chosen phases in order and returns the results of
// those that completed.
func (b *bench) runPhases(ctx context.Context) ([]phaseResult, error) {
	runners := map[string]func(context.Context, *tallyProc, *phaseResult) error{
		phaseRaw: b.rawPhase, phaseNATS: b.natsPhase, phaseHTTP: b.httpPhase, phaseLatency: b.latencyPhase, phaseEnt: b.entitlementsPhase,
		phaseBarrier: b.barrierPhase, phaseClose: b.closePhase, phasePayouts: b.payoutsPhase, phaseYear: b.yearPhase, phaseBacklog: b.backlogPhase,
	}
	var results []phaseResult
	for _, name := range allPhases {
		if !b.cfg.has(name) {
			continue
		}
		if name == phaseBacklog {
			if err := b.ensureEvents(b.cfg.BacklogEvents); err != nil {
				return results, err
			}
		}
		if name == phaseLatency {
			if err := b.prepareLatency(); err != nil {
				return results, fmt.Errorf("preparing the latency phase: %w", err)
			}
		}
		if name == phaseEnt {
			if err := b.prepareEntitlements(); err != nil {
				return results, fmt.Errorf("preparing the entitlements phase: %w", err)
			}
		}
		if name == phaseBarrier {
			if err := b.prepareBarrier(); err != nil {
				return results, fmt.Errorf("preparing the barrier phase: %w", err)
			}
		}
		fmt.Fprintf(b.stderr, "== %s phase\n", name)
		res, err := b.measure(ctx, name, runners[name])
		if err != nil {
			return results, fmt.Errorf("running the %s phase: %w", name, err)
		}
		if name == phaseNATS {
			b.natsRate = res.EventsPerSec
		}
		results = append(results, res)
	}
	return results, nil
}

// ensureEvents generates events until there are at least n. All share one
// clock reading, so they lie in the hour before the run started.
func (b *bench) ensureEvents(n int) error {
	if len(b.events) >= n {
		return nil
	}
	bar := progressbar.NewOptions(n,
		progressbar.OptionSetWriter(b.stderr),
		progressbar.OptionSetDescription("generating and validating events"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.stderr) }),
	)
	events, err := generateEvents(n, b.cfg.Seed, b.now, func(k int) { _ = bar.Add(k) })
	endBar(bar, err)
	if err != nil {
		return err
	}
	b.events = events
	return nil
}
