package daemon

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/lease"
	"github.com/tally-billing/tally/payouts"
	"github.com/tally-billing/tally/pipeline"
)

// startSchedulers runs the period-close and payout schedulers in g, each
// gated by its singleton lease and behind the read-your-writes barrier, as
// a close or a run on request is.
func (d *Daemon) startSchedulers(ctx context.Context, g *errgroup.Group, gctx context.Context,
	bill *billing.Service, market payouts.Runner, wm *pipeline.Watermark) error {
	installed, err := d.store.InstalledAt(ctx)
	if err != nil {
		return err
	}
	closeLeader, err := d.leader(ctx, "period-close")
	if err != nil {
		return err
	}
	payoutLeader, err := d.leader(ctx, "payout-run")
	if err != nil {
		return err
	}
	g.Go(func() error {
		return billing.RunScheduler(gctx, consistentCloser{bill, wm}, billing.SchedulerConfig{
			Grace: d.cfg.CloseGrace, NotBefore: installed, Now: d.cfg.Now, Leader: closeLeader, Check: d.cfg.SchedulerCheck,
			Logger: d.log.With().Str("component", "scheduler").Logger(),
		})
	})
	g.Go(func() error {
		return payouts.RunScheduler(gctx, consistentRunner{market, wm}, payouts.SchedulerConfig{
			Schedule: d.cfg.PayoutSchedule, NotBefore: installed, Now: d.cfg.Now, Leader: payoutLeader, Check: d.cfg.SchedulerCheck,
			Logger: d.log.With().Str("component", "payout-scheduler").Logger(),
		})
	})
	return nil
}

// consistentCloser closes a period only once every event acknowledged
// before the close is stored; a barrier that times out fails the close,
// which the scheduler tries again at its next check.
type consistentCloser struct {
	billing.PeriodCloser
	wm barrier
}

// barrier is the part of *pipeline.Watermark the schedulers wait on.
type barrier interface {
	Barrier(ctx context.Context) (pipeline.Progress, error)
}

func (c consistentCloser) Close(ctx context.Context, p billing.Period) (billing.CloseResult, error) {
	if _, err := c.wm.Barrier(ctx); err != nil {
		return billing.CloseResult{}, fmt.Errorf("closing %s: %w", p, err)
	}
	return c.PeriodCloser.Close(ctx, p)
}

// consistentRunner is consistentCloser for scheduled payout runs.
type consistentRunner struct {
	payouts.Runner
	wm barrier
}

func (r consistentRunner) RunPayouts(ctx context.Context, asOf time.Time) (payouts.RunResult, error) {
	if _, err := r.wm.Barrier(ctx); err != nil {
		return payouts.RunResult{}, fmt.Errorf("running payouts as of %s: %w", asOf.Format(time.RFC3339), err)
	}
	return r.Runner.RunPayouts(ctx, asOf)
}

// storedPosition is how far the sink has stored the events stream: a
// payout run's snapshot claims no event above it.
type storedPosition struct{ wm *pipeline.Watermark }

func (p storedPosition) StoredThrough(ctx context.Context) (uint64, error) {
	pr, err := p.wm.Progress(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the pipeline's progress: %w", err)
	}
	return pr.Events.Through, nil
}

// leader returns a function that takes or renews this replica's lease on
// a singleton job and reports whether it holds it; the lease is released
// at shutdown so another replica takes over at once.
func (d *Daemon) leader(ctx context.Context, job string) (func(context.Context) bool, error) {
	l, err := lease.New(ctx, d.js, lease.Config{Key: job, Holder: d.holder, Replicas: d.cfg.Topology.Replicas, Now: d.cfg.Now})
	if err != nil {
		return nil, err
	}
	d.leases = append(d.leases, l)
	log := d.log.With().Str("lease", job).Logger()
	held := false
	return func(ctx context.Context) bool {
		_, ok, err := l.Acquire(ctx)
		if err != nil {
			log.Warn().Err(err).Msg("checking the lease")
		}
		if ok != held {
			log.Info().Bool("held", ok).Msg("singleton lease changed hands")
			held = ok
		}
		return ok
	}, nil
}
