package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// phaseResult is what one phase measured. Times are seconds unless the
// name says otherwise; memory is bytes.
type phaseResult struct {
	Phase        string  `json:"phase"`
	Events       int     `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	RatioToRaw   float64 `json:"ratio_to_raw,omitempty"`
	// SendSeconds runs until the last publish ack or HTTP answer.
	SendSeconds float64 `json:"send_seconds"`
	// TargetRate is the paced rate of the latency and barrier phases.
	// The barrier phase's EventsPerSec is the rate it achieved (events
	// accepted after the first batch, from its answer to the last's).
	TargetRate float64 `json:"target_rate,omitempty"`
	P50Ms      float64 `json:"p50_ms,omitempty"`
	P99Ms      float64 `json:"p99_ms,omitempty"`
	MaxMs      float64 `json:"max_ms,omitempty"`
	// Barrier is the detail of the barrier phase; its P50Ms, P99Ms and
	// MaxMs above are those of the barrier alone under load.
	Barrier *barrierResult `json:"barrier,omitempty"`
	// Entitlements is the detail of the entitlements phase; P50Ms, P99Ms
	// and MaxMs above are its checks' under ingest.
	Entitlements *entResult `json:"entitlements,omitempty"`
	// Backlog is the peak of messages waiting for each consumer.
	Backlog *backlog `json:"peak_backlog,omitempty"`

	RSSTally      int64   `json:"peak_rss_tally_bytes"`
	RSSClickHouse int64   `json:"peak_rss_clickhouse_bytes"`
	CPUTally      float64 `json:"cpu_tally_seconds"`
	CPUClickHouse float64 `json:"cpu_clickhouse_seconds"`
	CPUBench      float64 `json:"cpu_bench_seconds"`
	// CPUOther is what other processes of the machine used meanwhile.
	CPUOther float64 `json:"cpu_other_seconds"`

	Duplicates    int      `json:"duplicates"`
	Retries       int      `json:"retries"`
	Warnings      int      `json:"tally_warnings"`
	FirstWarnings []string `json:"tally_first_warnings,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

func (r *phaseResult) setRate(n int, d time.Duration) {
	r.Events = n
	r.Seconds = d.Seconds()
	if r.Seconds > 0 {
		r.EventsPerSec = float64(n) / r.Seconds
	}
}

func (r *phaseResult) fromEndToEnd(n int, run e2eRun) {
	r.setRate(n, run.stored.Sub(run.start))
	r.SendSeconds = run.sendDone.Sub(run.start).Seconds()
	r.Backlog = &run.backlog
}

func (r *phaseResult) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// report is the whole output of a run.
type report struct {
	Command   string        `json:"command"`
	CPUs      int           `json:"cpus"`
	Events    int           `json:"events"`
	TallyArgs []string      `json:"tally_args"`
	Window    int           `json:"window"`
	Workers   int           `json:"http_workers"`
	Phases    []phaseResult `json:"phases"`
}

func newReport(cfg config, args []string, results []phaseResult) report {
	var raw float64
	for _, r := range results {
		if r.Phase == phaseRaw {
			raw = r.EventsPerSec
		}
	}
	// Only the end-to-end ingest phases send what raw sends: the others
	// measure something else (a paced rate, a close, a payout run).
	for i := range results {
		switch results[i].Phase {
		case phaseRaw, phaseNATS, phaseHTTP:
			if raw > 0 {
				results[i].RatioToRaw = results[i].EventsPerSec / raw
			}
		}
	}
	return report{
		Command:   strings.Join(append([]string{"tally-bench"}, args...), " "),
		CPUs:      runtime.NumCPU(),
		Events:    cfg.Events,
		TallyArgs: cfg.TallyArgs,
		Window:    cfg.Window,
		Workers:   cfg.HTTPWorkers,
		Phases:    results,
	}
}

func (rep report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

func (rep report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "\n%s  (%d CPUs, tally args %q, publish window %d, %d HTTP workers)\n\n",
		rep.Command, rep.CPUs, strings.Join(rep.TallyArgs, " "), rep.Window, rep.Workers)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tevents\tseconds\tevents/s\tvs raw\tp50\tp99\tpeak RSS tally\tpeak RSS clickhouse\t")
	for _, r := range rep.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Phase, r.Events, r.Seconds, r.EventsPerSec, ratio(r.RatioToRaw),
			millis(r.P50Ms), millis(r.P99Ms), mib(r.RSSTally), mib(r.RSSClickHouse))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	fmt.Fprintln(w)
	for _, r := range rep.Phases {
		fmt.Fprintf(w, "%-8s sent in %.2fs; CPU s: tally %.1f, clickhouse %.1f, bench %.1f, other processes %.1f; duplicates %d, retries %d, tally warnings %d\n",
			r.Phase, r.SendSeconds, r.CPUTally, r.CPUClickHouse, r.CPUBench, r.CPUOther, r.Duplicates, r.Retries, r.Warnings)
		if r.Backlog != nil {
			fmt.Fprintf(w, "%-8s peak backlog: validator %d, sink %d messages\n", "", r.Backlog.Validator, r.Backlog.Sink)
		}
		if r.Phase == phaseLatency {
			fmt.Fprintf(w, "%-8s paced at %.0f events/s; latency max %s\n", "", r.TargetRate, millis(r.MaxMs))
		}
		if r.Entitlements != nil {
			r.Entitlements.writeLines(w, r)
		}
		if r.Barrier != nil {
			r.Barrier.writeLines(w, r)
		}
		for _, n := range append(r.FirstWarnings, r.Notes...) {
			fmt.Fprintf(w, "%-8s ! %s\n", "", n)
		}
	}
	return nil
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

func millis(ms float64) string {
	if ms == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
