package billing

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// PeriodCloser closes one period; it must be idempotent.
type PeriodCloser interface {
	Close(ctx context.Context, p Period) (CloseResult, error)
	IsClosed(ctx context.Context, p Period) (bool, error)
}

// SchedulerConfig configures the scheduled close.
type SchedulerConfig struct {
	// Grace is how long after a month ends its close waits for late
	// events (default 1h).
	Grace time.Duration
	// Check is how often the scheduler looks (default 1m).
	Check time.Duration
	// NotBefore: periods that ended at or before it are never closed by
	// the scheduler, only on request. Tally passes its installation time:
	// it cannot know whether the events of months that ended before it ran
	// are complete.
	NotBefore time.Time
	// Leader reports whether this replica may run the job now (it holds
	// the singleton lease); nil means always.
	Leader func(ctx context.Context) bool
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger zerolog.Logger
}

// RunScheduler closes each month once it has ended and the grace period has
// passed, until ctx ends. A failed close is tried again at the next check;
// a close that already happened is not repeated (and would change nothing).
func RunScheduler(ctx context.Context, c PeriodCloser, cfg SchedulerConfig) error {
	if cfg.Grace <= 0 {
		cfg.Grace = time.Hour
	}
	if cfg.Check <= 0 {
		cfg.Check = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := time.NewTicker(cfg.Check)
	defer t.Stop()
	for {
		due := DuePeriod(cfg.Now(), cfg.Grace)
		closed, err := c.IsClosed(ctx, due)
		if !due.End().After(cfg.NotBefore) {
			closed = true // before Tally's time: closed on request only
		}
		if err == nil && !closed && cfg.Leader != nil && !cfg.Leader(ctx) {
			closed = true // another replica holds the lease and closes it
		}
		if err == nil && !closed {
			res, cerr := c.Close(ctx, due)
			if cerr != nil {
				cfg.Logger.Error().Err(cerr).Str("period", due.String()).Msg("scheduled close failed; will retry")
			} else {
				cfg.Logger.Info().Str("period", due.String()).Int("invoices", len(res.Invoices)).Msg("period closed by the scheduler")
			}
		} else if err != nil {
			cfg.Logger.Warn().Err(err).Msg("checking the last period")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// DuePeriod is the latest period whose close is due at now: the month
// before the one that contains now − grace.
func DuePeriod(now time.Time, grace time.Duration) Period {
	return prevPeriod(PeriodOf(now.Add(-grace)))
}
