package payouts

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Schedules of payout runs.
const (
	// Monthly runs on the 1st of each month at 00:00 UTC (SPEC §2).
	Monthly = "monthly"
	// Weekly runs every Monday at 00:00 UTC.
	Weekly = "weekly"
)

// DueRun is the latest scheduled run instant at or before now.
func DueRun(now time.Time, schedule string) (time.Time, error) {
	now = now.UTC()
	switch schedule {
	case Monthly, "":
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), nil
	case Weekly:
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -back), nil
	}
	return time.Time{}, fmt.Errorf("payout schedule %q: want %s or %s", schedule, Monthly, Weekly)
}

// SchedulerConfig configures scheduled payout runs.
type SchedulerConfig struct {
	Schedule string // Monthly (default) or Weekly
	// NotBefore: run instants at or before it are run on request only
	// (Tally's installation time).
	NotBefore time.Time
	Check     time.Duration // how often to look (default 1m)
	// Leader reports whether this replica may run the job now (it holds
	// the singleton lease); nil means always.
	Leader func(ctx context.Context) bool
	Now    func() time.Time
	Logger zerolog.Logger
}

// Runner runs payouts; a run must be idempotent per instant.
type Runner interface {
	RunPayouts(ctx context.Context, asOf time.Time) (RunResult, error)
	// HasRun reports whether the run as of asOf happened.
	HasRun(ctx context.Context, asOf time.Time) (bool, error)
}

// RunScheduler runs each scheduled payout run once, until ctx ends. A run
// that fails is tried again at the next check; one that happened is not
// repeated (and would pay nothing more).
func RunScheduler(ctx context.Context, s Runner, cfg SchedulerConfig) error {
	if _, err := DueRun(time.Now(), cfg.Schedule); err != nil {
		return err
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
		due, _ := DueRun(cfg.Now(), cfg.Schedule)
		if due.After(cfg.NotBefore) && (cfg.Leader == nil || cfg.Leader(ctx)) {
			ran, err := s.HasRun(ctx, due)
			switch {
			case err != nil:
				cfg.Logger.Warn().Err(err).Msg("checking the last payout run")
			case !ran:
				if res, err := s.RunPayouts(ctx, due); err != nil {
					cfg.Logger.Error().Err(err).Time("as_of", due).Msg("scheduled payout run failed; will retry")
				} else {
					cfg.Logger.Info().Time("as_of", due).Int("payouts", len(res.Payouts)).Msg("scheduled payout run")
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
