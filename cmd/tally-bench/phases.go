package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/pipeline"
)

// Where the phases publish.
const (
	rawStream   = "BENCH_RAW"
	rawSubject  = "bench.raw.events"
	natsSubject = pipeline.IngestSubjectPrefix + "bench"
)

// rawPhase publishes the events to a scratch file stream with no consumer:
// the JetStream ceiling of this machine.
func (b *bench) rawPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	nc, err := connectNATS(tp.NATSURL, b.cfg.Window)
	if err != nil {
		return err
	}
	defer nc.close()
	stream, err := nc.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       rawStream,
		Subjects:   []string{"bench.raw.>"},
		Storage:    jetstream.FileStorage,
		Duplicates: pipeline.DefaultDedupWindow, // as TALLY_EVENTS
	})
	if err != nil {
		return fmt.Errorf("creating the scratch stream: %w", err)
	}
	events := b.events[:b.cfg.Events]
	bar := b.newBar(len(events), "raw: acked")
	p := &windowPublisher{js: nc.js, subject: rawSubject, window: b.cfg.Window}
	st, err := p.publish(ctx, events, pubHooks{acked: func(n int) { _ = bar.Add(n) }})
	endBar(bar, err)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading the scratch stream: %w", err)
	}
	if info.State.Msgs != uint64(len(events)) {
		return fmt.Errorf("scratch stream holds %d messages, %d were published", info.State.Msgs, len(events))
	}
	res.setRate(len(events), st.lastAck.Sub(st.start))
	res.SendSeconds = res.Seconds
	res.Duplicates, res.Retries = st.duplicates, st.retries
	return nil
}

// natsPhase publishes the events to the ingest stream as fast as acks
// allow and waits until all are queryable.
func (b *bench) natsPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	nc, err := connectNATS(tp.NATSURL, b.cfg.Window)
	if err != nil {
		return err
	}
	defer nc.close()
	p := &windowPublisher{js: nc.js, subject: natsSubject, window: b.cfg.Window}
	var st pubStats
	send := func(ctx context.Context, sent func(int)) error {
		var err error
		st, err = p.publish(ctx, b.events[:b.cfg.Events], pubHooks{acked: sent})
		return err
	}
	if b.cfg.Perf != "" {
		perf, err := startPerf(b.cfg.Perf, tp.Pid(), tp.chPID)
		if err != nil {
			return err
		}
		defer func() {
			if err := perf.stop(); err != nil {
				res.note("perf: %v", err)
			}
		}()
	}
	e2e, err := b.endToEnd(ctx, tp, "nats", b.cfg.Events, send, nil)
	if err != nil {
		return err
	}
	res.fromEndToEnd(b.cfg.Events, e2e)
	res.Duplicates, res.Retries = st.duplicates, st.retries
	return nil
}

// httpPhase posts the events in batches from several workers and waits
// until all are queryable.
func (b *bench) httpPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	h := newHTTPSender(tp.HTTPAddr, tp.ingestKey, b.cfg.HTTPWorkers)
	send := func(ctx context.Context, sent func(int)) error {
		return h.sendAll(ctx, b.events[:b.cfg.Events], b.cfg.HTTPBatch, b.cfg.HTTPWorkers, sent)
	}
	e2e, err := b.endToEnd(ctx, tp, "http", b.cfg.Events, send, nil)
	if err != nil {
		return err
	}
	res.fromEndToEnd(b.cfg.Events, e2e)
	res.Duplicates, res.Retries = int(h.duplicates.Load()), int(h.retries.Load())
	return nil
}

// prepareLatency sets the rate and the size of the latency phase, and
// generates more events if it needs more than there are.
func (b *bench) prepareLatency() error {
	rate := float64(b.cfg.LatencyRate)
	if rate == 0 {
		rate = b.natsRate / 2
	}
	chunk := b.cfg.LatencyChunk
	n := int(rate*float64(b.cfg.LatencySeconds)) / chunk * chunk
	if n == 0 {
		return fmt.Errorf("a rate of %.0f events/s for %ds is less than one chunk of %d events", rate, b.cfg.LatencySeconds, chunk)
	}
	b.latencyRate, b.latencyEvents = rate, n
	return b.ensureEvents(n)
}

// latencyPhase publishes over the NATS path at a steady rate (half the
// NATS phase's rate unless -latency-rate says otherwise) and measures, for
// every chunk of events, the time from its last publish to the first poll
// whose count covers it. Counting assumes events become queryable in about
// the order they were sent, which holds for Tally's one ordered sink.
func (b *bench) latencyPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	rate, n := b.latencyRate, b.latencyEvents
	nc, err := connectNATS(tp.NATSURL, b.cfg.Window)
	if err != nil {
		return err
	}
	defer nc.close()

	rec := newLatencyRecorder(n, b.cfg.LatencyChunk)
	p := &windowPublisher{js: nc.js, subject: natsSubject, window: b.cfg.Window}
	pacer := newPacer(rate)
	send := func(ctx context.Context, sent func(int)) error {
		_, err := p.publish(ctx, b.events[:n], pubHooks{pace: pacer.wait, sent: rec.sent, acked: sent})
		return err
	}
	e2e, err := b.endToEnd(ctx, tp, "latency", n, send, rec.observe)
	if err != nil {
		return err
	}
	res.fromEndToEnd(n, e2e)
	res.TargetRate = rate
	res.P50Ms, res.P99Ms, res.MaxMs = rec.percentiles()
	return nil
}

// e2eRun is what an end-to-end run measured.
type e2eRun struct {
	start    time.Time // first send
	sendDone time.Time // last publish ack or HTTP answer
	stored   time.Time // first poll that counted every event
	backlog  backlog
}

// endToEnd runs send while polling ClickHouse until n events are stored,
// shows both on a progress bar, watches the consumers' backlogs, and
// checks that exactly the events sent are stored.
func (b *bench) endToEnd(ctx context.Context, tp *tallyProc, label string, n int,
	send func(ctx context.Context, sent func(int)) error, observe func(sample)) (e2eRun, error) {
	var run e2eRun
	st, err := openStore(ctx, tp.ClickHouseDSN)
	if err != nil {
		return run, err
	}
	defer st.close()
	watch, err := startBacklogWatch(ctx, tp.NATSURL)
	if err != nil {
		return run, err
	}
	defer watch.stop()

	bar := b.newBar(n, label+": stored")
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	run.start = time.Now()
	g.Go(func() error {
		if err := send(gctx, func(k int) { sent.Add(int64(k)) }); err != nil {
			return fmt.Errorf("sending events: %w", err)
		}
		run.sendDone = time.Now()
		return nil
	})
	g.Go(func() error {
		var err error
		run.stored, err = st.waitStored(gctx, waitSpec{
			target:   uint64(n),
			interval: b.cfg.Poll,
			stall:    b.cfg.Stall,
			alive:    tp.checkAlive,
			observe: func(s sample) {
				bar.Describe(fmt.Sprintf("%s: sent %3d%%, stored", label, sent.Load()*100/int64(n)))
				_ = bar.Set64(int64(s.count))
				if observe != nil {
					observe(s)
				}
			},
		})
		if err != nil {
			return fmt.Errorf("waiting for events in clickhouse: %w", err)
		}
		return nil
	})
	err = g.Wait()
	run.backlog = watch.stop()
	endBar(bar, err)
	if err != nil {
		return run, err
	}
	return run, st.verifyExact(ctx, uint64(n))
}

// pacer spaces publishes to a steady rate, sleeping every few events.
type pacer struct {
	rate  float64
	step  int
	start time.Time
}

func newPacer(rate float64) *pacer {
	return &pacer{rate: rate, step: max(1, int(rate/500))}
}

// wait paces event i of a stream of single publishes: it sleeps only
// every step events.
func (p *pacer) wait(ctx context.Context, i int) error {
	if i%p.step != 0 {
		return nil
	}
	return p.until(ctx, i)
}

// until sleeps until event i is due; i = 0 starts the clock.
func (p *pacer) until(ctx context.Context, i int) error {
	if i == 0 {
		p.start = time.Now()
	}
	due := p.start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 && !sleepCtx(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// newBar is a progress bar on stderr.
func (b *bench) newBar(total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.stderr) }),
	)
}

// endBar completes bar after success, or leaves it where it stopped.
func endBar(bar *progressbar.ProgressBar, err error) {
	if err != nil {
		_ = bar.Exit()
		return
	}
	_ = bar.Finish()
}

// measure runs one phase against a fresh tally and adds the resources it
// used: CPU time of tally, its ClickHouse, tally-bench and everything else
// on the machine (other load skews the figures), and the peak RSS of tally
// and of its ClickHouse.
func (b *bench) measure(ctx context.Context, name string, run func(context.Context, *tallyProc, *phaseResult) error) (phaseResult, error) {
	res := phaseResult{Phase: name}
	tp, err := startTally(ctx, tallyOptions{bin: b.cfg.TallyBin, args: b.cfg.TallyArgs, keep: b.cfg.Keep, label: name})
	if err != nil {
		return res, err
	}
	if b.cfg.Keep {
		fmt.Fprintf(b.stderr, "%s: tally data dir %s\n", name, tp.dataDir)
	}
	cpuTally, cpuCH, cpuSelf, cpuAll := cpuTime(tp.Pid()), cpuTime(tp.chPID), selfCPU(), machineBusy()
	runErr := run(ctx, tp, &res)
	if runErr == nil {
		res.CPUTally = (cpuTime(tp.Pid()) - cpuTally).Seconds()
		res.CPUClickHouse = (cpuTime(tp.chPID) - cpuCH).Seconds()
		res.CPUBench = (selfCPU() - cpuSelf).Seconds()
		res.CPUOther = max(0, (machineBusy()-cpuAll).Seconds()-res.CPUTally-res.CPUClickHouse-res.CPUBench)
		res.RSSTally, res.RSSClickHouse, runErr = tp.peakRSS()
		res.Warnings, res.FirstWarnings = tp.warningCount()
	}
	if err := tp.stop(); err != nil {
		if runErr != nil {
			return res, errors.Join(runErr, fmt.Errorf("stopping tally: %w", err))
		}
		res.note("stopping tally: %v", err)
	}
	if cmdlineContains(tp.chPID, daemon.LauncherCommand) {
		res.note("clickhouse child %d still running after stop", tp.chPID)
	}
	return res, runErr
}
