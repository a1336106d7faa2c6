package main

import (
	"context"
	"fmt"
)

// backlogPhase publishes -backlog-events events over the NATS path as fast
// as JetStream acknowledges them, then lets tally work through the backlog
// for -backlog-drain, and reports tally's peak RSS: the memory bound with
// millions of events waiting. It does not wait until every event is
// stored (the nats phase measures that); the events/s column is the
// publish rate.
func (b *bench) backlogPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	n := b.cfg.BacklogEvents
	nc, err := connectNATS(tp.NATSURL, b.cfg.Window)
	if err != nil {
		return err
	}
	defer nc.close()
	watch, err := startBacklogWatch(ctx, tp.NATSURL)
	if err != nil {
		return err
	}
	defer watch.stop()

	bar := b.newBar(n, "backlog: acked")
	p := &windowPublisher{js: nc.js, subject: natsSubject, window: b.cfg.Window}
	st, err := p.publish(ctx, b.events[:n], pubHooks{acked: func(k int) { _ = bar.Add(k) }})
	endBar(bar, err)
	if err != nil {
		return err
	}
	res.setRate(n, st.lastAck.Sub(st.start))
	res.SendSeconds = res.Seconds
	res.Duplicates, res.Retries = st.duplicates, st.retries
	fmt.Fprintf(b.stderr, "backlog: published; draining for %s\n", b.cfg.BacklogDrain)
	if !sleepCtx(ctx, b.cfg.BacklogDrain) {
		return ctx.Err()
	}
	if err := tp.checkAlive(); err != nil {
		return err
	}
	st2, err := openStore(ctx, tp.ClickHouseDSN)
	if err != nil {
		return err
	}
	defer st2.close()
	stored, err := st2.count(ctx)
	if err != nil {
		return err
	}
	peak := watch.stop()
	res.Backlog = &peak
	res.note("%d of %d events stored after %s of draining", stored, n, b.cfg.BacklogDrain)
	return nil
}
