package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/payouts"
	"github.com/tally-billing/tally/pipeline"
)

type fakeBarrier struct {
	err   error
	calls int
}

func (b *fakeBarrier) Barrier(context.Context) (pipeline.Progress, error) {
	b.calls++
	return pipeline.Progress{}, b.err
}

type fakeJobs struct{ closes, runs int }

func (j *fakeJobs) Close(context.Context, billing.Period) (billing.CloseResult, error) {
	j.closes++
	return billing.CloseResult{}, nil
}
func (j *fakeJobs) IsClosed(context.Context, billing.Period) (bool, error) { return false, nil }
func (j *fakeJobs) RunPayouts(context.Context, time.Time) (payouts.RunResult, error) {
	j.runs++
	return payouts.RunResult{}, nil
}
func (j *fakeJobs) HasRun(context.Context, time.Time) (bool, error) { return false, nil }

// TestScheduledJobsWaitForTheBarrier: a scheduled close or payout run
// passes the read-your-writes barrier first, and does not run on a
// partial picture when the barrier times out.
func TestScheduledJobsWaitForTheBarrier(t *testing.T) {
	ctx := context.Background()
	p, err := billing.ParsePeriod("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	jobs := &fakeJobs{}
	b := &fakeBarrier{}
	if _, err := (consistentCloser{jobs, b}).Close(ctx, p); err != nil || jobs.closes != 1 || b.calls != 1 {
		t.Fatalf("close: %v, %d closes, %d barriers; want one of each", err, jobs.closes, b.calls)
	}
	if _, err := (consistentRunner{jobs, b}).RunPayouts(ctx, time.Time{}); err != nil || jobs.runs != 1 || b.calls != 2 {
		t.Fatalf("run: %v, %d runs, %d barriers; want one run after the second barrier", err, jobs.runs, b.calls)
	}

	b.err = &pipeline.Behind{Unstored: 10}
	if _, err := (consistentCloser{jobs, b}).Close(ctx, p); !errors.Is(err, pipeline.ErrBehind) || jobs.closes != 1 {
		t.Fatalf("close while behind: %v, %d closes; want ErrBehind and no close", err, jobs.closes)
	}
	if _, err := (consistentRunner{jobs, b}).RunPayouts(ctx, time.Time{}); !errors.Is(err, pipeline.ErrBehind) || jobs.runs != 1 {
		t.Fatalf("run while behind: %v, %d runs; want ErrBehind and no run", err, jobs.runs)
	}
}
