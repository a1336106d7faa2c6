package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// The barrier phase: what the read-your-writes barrier (SPEC §5) adds to a
// period close while events come in.
const (
	// barrierTarget and barrierClaimRate are the claim measured: under an
	// ingest load of barrierClaimRate events/s the barrier adds less than
	// barrierTarget to a close.
	barrierTarget    = time.Second
	barrierClaimRate = 20_000
	// barrierPath waits until every event acknowledged before it is stored.
	barrierPath = "/v1/pipeline/barrier"
	// barrierUsagePerTenant is the usage rows of each tenant of the month
	// the phase closes (the first 100 seat events, then AI credits).
	barrierUsagePerTenant = 200
	// idleRounds is how many barriers and closes are timed with no load.
	idleRounds = 10
	// probeTimeout bounds one timed request; tally's own barrier gives up
	// after --barrier-timeout (30s) with a 503.
	probeTimeout = 2 * time.Minute
	// rateShortfall is the share of barrierClaimRate below which the run
	// does not show the claim, whatever the barrier did.
	rateShortfall = 0.95
)

// prepareBarrier sizes the load of the barrier phase and generates more
// events if it needs more than there are.
func (b *bench) prepareBarrier() error {
	b.barrierEvents = b.cfg.BarrierRate * b.cfg.BarrierSeconds
	return b.ensureEvents(b.barrierEvents)
}

// barrierPhase seeds a month of -barrier-tenants tenants and closes it
// once with no load (the close that rates and stores the invoices). It
// then times, every -barrier-interval, a POST /v1/pipeline/barrier and a
// re-close of that month: idleRounds times with no load, then for as long
// as it posts -barrier-rate events/s over HTTP for -barrier-seconds. A
// re-close answers the stored invoices, so what separates a re-close under
// load from one with no load is the barrier (and the CPU the load takes).
// At the end it checks that every event sent is stored exactly once.
func (b *bench) barrierPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	tenants := b.cfg.BarrierTenants
	volume := tenants * barrierUsagePerTenant
	m, err := b.closeSeededMonth(ctx, tp, "barrier", tenants, volume)
	if err != nil {
		return err
	}
	st := m.st
	defer st.close()
	out := &barrierResult{Tenants: tenants, FirstCloseMs: millisOf(m.took), Invoices: int(m.invoices)}
	newProber := func() *prober {
		return &prober{
			addr: tp.HTTPAddr, key: m.finance, interval: b.cfg.BarrierInterval,
			barrier: probes{name: "a barrier"}, close: probes{name: "a close"},
		}
	}

	fmt.Fprintf(b.stderr, "barrier: timing %d barriers and re-closes with no load\n", idleRounds)
	idle := newProber()
	if err := idle.run(ctx, idleRounds, nil, nil); err != nil {
		return err
	}
	out.IdleBarrier, out.IdleClose = idle.barrier.stats(), idle.close.stats()

	loaded := newProber()
	load, err := b.barrierLoad(ctx, tp, loaded)
	if err != nil {
		return err
	}
	out.Barrier, out.Close = loaded.barrier.stats(), loaded.close.stats()
	for _, p := range []*probes{&idle.barrier, &idle.close, &loaded.barrier, &loaded.close} {
		if p.firstFailure != "" {
			res.note("first 503 of %s: %.300s", p.name, p.firstFailure)
		}
	}

	n := b.barrierEvents
	res.setRate(n, load.sendDone.Sub(load.start))
	res.EventsPerSec = load.rate
	res.SendSeconds = res.Seconds
	res.TargetRate = float64(b.cfg.BarrierRate)
	res.P50Ms, res.P99Ms, res.MaxMs = out.Barrier.P50Ms, out.Barrier.P99Ms, out.Barrier.MaxMs
	res.Backlog = &load.backlog
	res.Duplicates, res.Retries = load.duplicates, load.retries
	out.judge(res.EventsPerSec)
	res.Barrier = out

	// Nothing accepted is missed: the seeded month and every event sent.
	total := uint64(tenants + volume + n)
	spec := waitSpec{target: total, interval: 100 * time.Millisecond, stall: b.cfg.Stall, alive: tp.checkAlive}
	if _, err := st.waitStored(ctx, spec); err != nil {
		return fmt.Errorf("waiting for the events sent under load: %w", err)
	}
	return st.verifyExact(ctx, total)
}

// barrierLoad posts the phase's events at -barrier-rate over HTTP while p
// times a barrier and a re-close every interval, until the last event is
// accepted, with a progress bar of the events accepted.
func (b *bench) barrierLoad(ctx context.Context, tp *tallyProc, p *prober) (loadRun, error) {
	var run loadRun
	n := b.barrierEvents
	watch, err := startBacklogWatch(ctx, tp.NATSURL)
	if err != nil {
		return run, err
	}
	defer watch.stop()
	h := newHTTPSender(tp.HTTPAddr, tp.ingestKey, b.cfg.HTTPWorkers)
	pacer := newPacer(float64(b.cfg.BarrierRate))
	bar := b.newBar(n, "barrier: accepted")
	var clock acceptClock
	loadDone := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	run.start = time.Now()
	g.Go(func() error {
		defer close(loadDone)
		err := h.sendPaced(gctx, b.events[:n], b.cfg.HTTPBatch, b.cfg.HTTPWorkers, pacer.until, func(k int) {
			clock.accepted(k, time.Now())
			_ = bar.Add(k)
		})
		if err != nil {
			return fmt.Errorf("sending events: %w", err)
		}
		run.sendDone = time.Now()
		return nil
	})
	g.Go(func() error {
		return p.run(gctx, 0, loadDone, func() {
			bar.Describe(fmt.Sprintf("barrier: %d probes (%d 503), last barrier %s, accepted",
				len(p.barrier.ms), p.barrier.failed+p.close.failed, millis(p.barrier.last())))
		})
	})
	err = g.Wait()
	run.backlog = watch.stop()
	run.duplicates, run.retries = int(h.duplicates.Load()), int(h.retries.Load())
	run.rate = clock.rate()
	endBar(bar, err)
	return run, err
}

// loadRun is what the load of the barrier phase measured.
type loadRun struct {
	start    time.Time // first batch posted
	sendDone time.Time // last batch accepted
	// rate is the events/s accepted, see acceptClock.
	rate    float64
	backlog backlog
	// duplicates and retries are the HTTP sender's.
	duplicates, retries int
}

// acceptClock measures the rate of a paced send: the events accepted
// after the first batch, over the time from the first batch's answer to
// the last one's. Events over the whole send time would overstate it, as
// the last batch is due one batch before the end of the nominal span.
type acceptClock struct {
	mu          sync.Mutex
	first, last time.Time
	firstN, n   int
}

func (c *acceptClock) accepted(n int, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() {
		c.first, c.firstN = at, n
	}
	c.last = at
	c.n += n
}

// rate is 0 until two batches have been accepted.
func (c *acceptClock) rate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.last.Sub(c.first).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(c.n-c.firstN) / d
}

// prober times barriers and closes with the finance key.
type prober struct {
	addr, key      string
	interval       time.Duration
	barrier, close probes
}

// run times a barrier and then a close every interval (back to back when
// a round takes longer): rounds rounds, or, if rounds is 0, until done is
// closed. after, if not nil, is called after each round.
func (p *prober) run(ctx context.Context, rounds int, done <-chan struct{}, after func()) error {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for k := 0; rounds == 0 || k < rounds; k++ {
		for _, step := range []struct {
			path string
			into *probes
		}{{barrierPath, &p.barrier}, {closePath, &p.close}} {
			a, err := p.post(ctx, step.path)
			if err != nil {
				return err
			}
			step.into.add(a)
		}
		if after != nil {
			after()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// post times one request. A 503 (the barrier timed out) is an answer to
// count; any other status but 200 is an error.
func (p *prober) post(ctx context.Context, path string) (apiAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	a, err := postAPI(ctx, p.addr, p.key, path)
	if err != nil {
		return a, err
	}
	if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
		return a, fmt.Errorf("POST %s: %d %s: %.300s", path, a.status, http.StatusText(a.status), a.body)
	}
	return a, nil
}

// probes are the timed answers of one kind of request. A 503 counts with
// the time it took, and as failed.
type probes struct {
	name         string
	ms           []float64
	failed       int
	firstFailure string
}

func (p *probes) add(a apiAnswer) {
	p.ms = append(p.ms, millisOf(a.took))
	if a.status == http.StatusServiceUnavailable {
		p.failed++
		if p.firstFailure == "" {
			p.firstFailure = string(a.body)
		}
	}
}

func (p *probes) last() float64 {
	if len(p.ms) == 0 {
		return 0
	}
	return p.ms[len(p.ms)-1]
}

func (p *probes) stats() waitStats {
	s := waitStats{Samples: len(p.ms), Failed: p.failed, Ms: append([]float64(nil), p.ms...)}
	s.P50Ms, s.P99Ms, s.MaxMs = percentiles(append([]float64(nil), p.ms...))
	return s
}

// waitStats summarise the probes of one kind.
type waitStats struct {
	Samples int     `json:"samples"`
	Failed  int     `json:"failed_503"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// Ms are the times in the order they were taken: under a load the
	// pipeline cannot keep up with, they grow with its backlog.
	Ms []float64 `json:"ms"`
}

func (s waitStats) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s (%d, %d answered 503)",
		millis(s.P50Ms), millis(s.P99Ms), millis(s.MaxMs), s.Samples, s.Failed)
}

// barrierResult is what the barrier phase measured.
type barrierResult struct {
	Tenants  int `json:"tenants"`
	Invoices int `json:"invoices"`
	// FirstCloseMs is the close that rated and stored the month, with no
	// load; every later close is a re-close.
	FirstCloseMs float64 `json:"first_close_ms"`
	// With no load, then under load.
	IdleBarrier waitStats `json:"idle_barrier"`
	IdleClose   waitStats `json:"idle_close"`
	Barrier     waitStats `json:"barrier"`
	Close       waitStats `json:"close"`
	// AddedP50Ms and AddedP99Ms are what the barrier adds to a close under
	// load: its wait (a close passes the very same barrier before it reads
	// anything), less its p50 with no load.
	AddedP50Ms float64 `json:"added_p50_ms"`
	AddedP99Ms float64 `json:"added_p99_ms"`
	// SlowerP50Ms and SlowerP99Ms are a whole close under load less a close
	// with no load: the barrier's wait plus the close's own work slowed by
	// the CPU the load takes, which it would lose without a barrier too.
	SlowerP50Ms float64 `json:"close_slower_p50_ms"`
	SlowerP99Ms float64 `json:"close_slower_p99_ms"`
	Met         bool    `json:"target_met"`
	Verdict     string  `json:"verdict"`
}

// judge computes what the barrier adds and whether the claim holds: at
// an achieved rate of barrierClaimRate (within rateShortfall), whatever
// -barrier-rate asked for, the barrier adds less than barrierTarget to a
// close at p99, and no barrier or close answered 503.
func (r *barrierResult) judge(achieved float64) {
	r.AddedP50Ms = r.Barrier.P50Ms - r.IdleBarrier.P50Ms
	r.AddedP99Ms = r.Barrier.P99Ms - r.IdleBarrier.P50Ms
	r.SlowerP50Ms = r.Close.P50Ms - r.IdleClose.P50Ms
	r.SlowerP99Ms = r.Close.P99Ms - r.IdleClose.P50Ms
	limit := millisOf(barrierTarget)
	r.Met = false
	switch {
	case r.Close.Samples == 0 || r.Barrier.Samples == 0:
		r.Verdict = "not measured: no probe ran under load"
	case r.Barrier.Failed+r.Close.Failed > 0:
		r.Verdict = fmt.Sprintf("no: %d of %d barriers and %d of %d closes answered 503",
			r.Barrier.Failed, r.Barrier.Samples, r.Close.Failed, r.Close.Samples)
	case r.AddedP99Ms >= limit:
		r.Verdict = fmt.Sprintf("no: the barrier adds %.0f ms at p99", r.AddedP99Ms)
	case achieved < rateShortfall*barrierClaimRate:
		r.Verdict = fmt.Sprintf("not shown: ingest reached %.0f of %d events/s (at that rate the barrier adds %.0f ms at p99)",
			achieved, barrierClaimRate, r.AddedP99Ms)
	default:
		r.Met = true
		r.Verdict = fmt.Sprintf("yes: the barrier adds %.0f ms at p99", r.AddedP99Ms)
	}
}

// writeLines writes the phase's lines below the table.
func (r *barrierResult) writeLines(w io.Writer, res phaseResult) {
	fmt.Fprintf(w, "%-8s HTTP ingest paced at %.0f events/s, %.0f events/s achieved\n", "", res.TargetRate, res.EventsPerSec)
	fmt.Fprintf(w, "%-8s barrier under load: %s; no load: %s\n", "", r.Barrier, r.IdleBarrier)
	fmt.Fprintf(w, "%-8s close   under load: %s; no load: %s\n", "", r.Close, r.IdleClose)
	fmt.Fprintf(w, "%-8s barrier under load, in order (ms): %s\n", "", inOrder(r.Barrier.Ms))
	fmt.Fprintf(w, "%-8s first close with no load %s (%d tenants, %d invoices); later ones are re-closes\n",
		"", millis(r.FirstCloseMs), r.Tenants, r.Invoices)
	fmt.Fprintf(w, "%-8s a close under load is slower by p50 %.0f ms, p99 %.0f ms (the barrier's wait and its own work on CPU shared with the load)\n",
		"", r.SlowerP50Ms, r.SlowerP99Ms)
	fmt.Fprintf(w, "%-8s the barrier adds to a close: p50 %.0f ms, p99 %.0f ms; target < %s at %d events/s: %s\n",
		"", r.AddedP50Ms, r.AddedP99Ms, barrierTarget, barrierClaimRate, r.Verdict)
}

// inOrder lists ms rounded to whole milliseconds.
func inOrder(ms []float64) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = strconv.FormatFloat(m, 'f', 0, 64)
	}
	return strings.Join(parts, " ")
}

func millisOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
