package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tally-billing/tally/pipeline"
)

// Phase names, in the order they run.
const (
	phaseRaw     = "raw"
	phaseNATS    = "nats"
	phaseHTTP    = "http"
	phaseLatency = "latency"
	phaseEnt     = "entitlements"
	phaseBarrier = "barrier"
	phaseClose   = "close"
	phasePayouts = "payouts"
	phaseYear    = "payouts-year"
	phaseBacklog = "backlog"
)

// allPhases run in this order. The backlog phase (10M events) is not run
// unless named.
var allPhases = []string{phaseRaw, phaseNATS, phaseHTTP, phaseLatency, phaseEnt, phaseBarrier, phaseClose, phasePayouts, phaseYear, phaseBacklog}

var defaultPhases = []string{phaseRaw, phaseNATS, phaseHTTP, phaseLatency, phaseEnt, phaseBarrier, phaseClose, phasePayouts, phaseYear}

// config is the command line of tally-bench.
type config struct {
	Events         int
	HTTPWorkers    int
	HTTPBatch      int
	LatencySeconds int
	LatencyRate    int
	LatencyChunk   int
	Window         int
	TallyBin       string
	TallyArgs      []string
	Phases         []string
	Keep           bool
	JSON           bool
	Perf           string
	Poll           time.Duration
	Stall          time.Duration
	Seed           uint64

	// The entitlements phase.
	EntSeconds   int
	EntCheckRate int
	EntTenants   int
	EntWorkers   int

	// The barrier phase.
	BarrierRate     int
	BarrierSeconds  int
	BarrierInterval time.Duration
	BarrierTenants  int

	// The close and payouts phases.
	CloseTenants     int
	CloseEvents      int
	Providers        int
	SalesPerProvider int

	// The payouts-year phase (with Providers).
	YearSalesPerMonth int
	BalanceReads      int

	// The backlog phase.
	BacklogEvents int
	BacklogDrain  time.Duration
}

// parseFlags parses and validates the command line. On a bad one it
// writes why to stderr and returns errUsage; on -h it returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var tallyArgs, phases string
	fs := flag.NewFlagSet("tally-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Events, "events", 1_000_000, "events per phase")
	fs.IntVar(&c.HTTPWorkers, "http-workers", 4, "concurrent HTTP senders")
	fs.IntVar(&c.HTTPBatch, "http-batch", pipeline.MaxBatchEvents, "events per HTTP request")
	fs.IntVar(&c.LatencySeconds, "latency-seconds", 15, "length of the latency phase in seconds")
	fs.IntVar(&c.LatencyRate, "latency-rate", 0, "events/s of the latency phase (default: half the NATS phase's rate)")
	fs.IntVar(&c.LatencyChunk, "latency-chunk", 1000, "events per latency sample")
	fs.IntVar(&c.Window, "window", 1024, "most unacknowledged async JetStream publishes")
	fs.StringVar(&c.TallyBin, "tally-bin", "bin/tally", "tally binary (make build)")
	fs.StringVar(&tallyArgs, "tally-args", "", `extra flags for "tally run", e.g. "--sink-max-batch 20000 --sink-max-wait 100ms"`)
	fs.StringVar(&phases, "phases", strings.Join(defaultPhases, ","), "phases to run, comma separated (also: "+phaseBacklog+")")
	fs.BoolVar(&c.Keep, "keep", false, "keep each phase's tally data dir (with tally.log)")
	fs.BoolVar(&c.JSON, "json", false, "print the results as JSON on stdout (the table goes to stderr)")
	fs.StringVar(&c.Perf, "perf", "", "record a perf CPU profile of tally and its ClickHouse during the NATS phase into this file")
	fs.DurationVar(&c.Poll, "poll", 20*time.Millisecond, "interval of the SELECT count() polls (each costs ClickHouse ~3ms of CPU)")
	fs.DurationVar(&c.Stall, "stall", 2*time.Minute, "give up when the stored count does not move for this long")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the event generator")
	fs.IntVar(&c.EntSeconds, "ent-seconds", 15, "length of the entitlements phase's load in seconds")
	fs.IntVar(&c.EntCheckRate, "ent-check-rate", 2000, "entitlement checks/s of the entitlements phase")
	fs.IntVar(&c.EntTenants, "ent-tenants", 100, "tenants the entitlements phase checks")
	fs.IntVar(&c.EntWorkers, "ent-workers", 64, "concurrent checkers of the entitlements phase")
	fs.IntVar(&c.BarrierRate, "barrier-rate", 20_000, "events/s of the HTTP load of the barrier phase")
	fs.IntVar(&c.BarrierSeconds, "barrier-seconds", 20, "length of the barrier phase's load in seconds")
	fs.DurationVar(&c.BarrierInterval, "barrier-interval", 500*time.Millisecond, "interval between the barrier phase's timed barrier and close")
	fs.IntVar(&c.BarrierTenants, "barrier-tenants", 1000, "tenants of the month the barrier phase closes")
	fs.IntVar(&c.CloseTenants, "close-tenants", 10_000, "tenants of the month the close phase closes")
	fs.IntVar(&c.CloseEvents, "close-events", 10_000_000, "usage events of the month the close phase closes")
	fs.IntVar(&c.Providers, "providers", 10_000, "KYC-verified providers of the payouts phase")
	fs.IntVar(&c.SalesPerProvider, "sales-per-provider", 20, "October sales of each provider in the payouts phase")
	fs.IntVar(&c.YearSalesPerMonth, "year-sales-per-month", 4, "sales of each provider every month of the payouts-year phase")
	fs.IntVar(&c.BalanceReads, "balance-reads", 1000, "single-provider balance reads timed after the payouts-year runs")
	fs.IntVar(&c.BacklogEvents, "backlog-events", 10_000_000, "events published by the backlog phase")
	fs.DurationVar(&c.BacklogDrain, "backlog-drain", time.Minute, "how long the backlog phase lets tally work after publishing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage // the flag set has printed why
	}
	c.TallyArgs = strings.Fields(tallyArgs)
	for p := range strings.SplitSeq(phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.Phases = append(c.Phases, p)
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		return c, errUsage
	}
	if err := c.validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return c, errUsage
	}
	return c, nil
}

func (c config) validate() error {
	var errs []error
	if c.Events < 1 {
		errs = append(errs, errors.New("-events must be at least 1"))
	}
	if c.HTTPWorkers < 1 {
		errs = append(errs, errors.New("-http-workers must be at least 1"))
	}
	if c.HTTPBatch < 1 || c.HTTPBatch > pipeline.MaxBatchEvents {
		errs = append(errs, fmt.Errorf("-http-batch must be 1..%d", pipeline.MaxBatchEvents))
	}
	if c.LatencySeconds < 1 || c.LatencyRate < 0 || c.LatencyChunk < 1 {
		errs = append(errs, errors.New("-latency-seconds and -latency-chunk must be at least 1, -latency-rate at least 0"))
	}
	if c.BarrierRate < 1 || c.BarrierSeconds < 1 || c.BarrierInterval <= 0 || c.BarrierTenants < 1 {
		errs = append(errs, errors.New("-barrier-rate, -barrier-seconds and -barrier-tenants must be at least 1, -barrier-interval positive"))
	}
	if c.EntSeconds < 1 || c.EntCheckRate < 1 || c.EntTenants < 1 || c.EntWorkers < 1 {
		errs = append(errs, errors.New("-ent-seconds, -ent-check-rate, -ent-tenants and -ent-workers must be at least 1"))
	}
	if c.Window < 1 {
		errs = append(errs, errors.New("-window must be at least 1"))
	}
	if c.YearSalesPerMonth < 2 || c.BalanceReads < 1 {
		errs = append(errs, errors.New("-year-sales-per-month must be at least 2, -balance-reads at least 1"))
	}
	if c.CloseTenants < 1 || c.CloseEvents < 0 || c.Providers < 1 || c.SalesPerProvider < 1 {
		errs = append(errs, errors.New("-close-tenants, -providers and -sales-per-provider must be at least 1, -close-events at least 0"))
	}
	if c.BacklogEvents < 1 || c.BacklogDrain < 0 {
		errs = append(errs, errors.New("-backlog-events must be at least 1, -backlog-drain at least 0"))
	}
	if c.Poll <= 0 || c.Stall <= 0 {
		errs = append(errs, errors.New("-poll and -stall must be positive"))
	}
	for _, p := range c.Phases {
		if !slices.Contains(allPhases, p) {
			errs = append(errs, fmt.Errorf("unknown phase %q; phases are %s", p, strings.Join(allPhases, ", ")))
		}
	}
	if len(c.Phases) == 0 {
		errs = append(errs, errors.New("-phases names no phase"))
	}
	if slices.Contains(c.Phases, phaseLatency) && c.LatencyRate == 0 && !slices.Contains(c.Phases, phaseNATS) {
		errs = append(errs, errors.New("the latency phase needs the nats phase or -latency-rate"))
	}
	if slices.Contains(c.Phases, phaseEnt) && c.LatencyRate == 0 && !slices.Contains(c.Phases, phaseNATS) {
		errs = append(errs, errors.New("the entitlements phase needs the nats phase or -latency-rate (its ingest rate)"))
	}
	return errors.Join(errs...)
}

// has reports whether phase p is to run.
func (c config) has(p string) bool { return slices.Contains(c.Phases, p) }
