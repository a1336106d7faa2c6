package payouts

import (
	"context"
	"testing"
	"time"
)

func TestDueRun(t *testing.T) {
	cases := []struct {
		now      time.Time
		schedule string
		want     time.Time
	}{
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Monthly, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), Monthly, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Weekly, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}, // a Friday → Monday 23rd
		{time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Weekly, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), Weekly, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}, // Sunday
	}
	for _, tc := range cases {
		got, err := DueRun(tc.now, tc.schedule)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("DueRun(%v, %s) = %v, %v; want %v", tc.now, tc.schedule, got, err, tc.want)
		}
	}
	if _, err := DueRun(time.Now(), "daily"); err == nil {
		t.Error("an unknown schedule was accepted")
	}
}

// scriptedRunner answers HasRun and RunPayouts from scripts and stops the
// scheduler once the scripts are done.
type scriptedRunner struct {
	hasRun []error // nil: not run yet
	runs   []error
	asked  []time.Time
	ran    []time.Time
	stop   context.CancelFunc
}

func (r *scriptedRunner) HasRun(_ context.Context, asOf time.Time) (bool, error) {
	r.asked = append(r.asked, asOf)
	err := r.hasRun[0]
	r.hasRun = r.hasRun[1:]
	return false, err
}

func (r *scriptedRunner) RunPayouts(_ context.Context, asOf time.Time) (RunResult, error) {
	r.ran = append(r.ran, asOf)
	err := r.runs[0]
	r.runs = r.runs[1:]
	if len(r.runs) == 0 {
		r.stop()
	}
	return RunResult{AsOf: asOf}, err
}

// The scheduler runs the due instant once the leader, retrying a failed
// check or run at the next tick, and stops with its context.
func TestRunSchedulerRetriesUntilTheRunSucceeds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &scriptedRunner{hasRun: []error{errDown, nil, nil}, runs: []error{errDown, nil}, stop: cancel}
	leader := 0
	err := RunScheduler(ctx, r, SchedulerConfig{
		Schedule:  Monthly,
		NotBefore: ts("2026-10-15"),
		Check:     time.Millisecond,
		Leader:    func(context.Context) bool { leader++; return leader > 1 }, // not the leader at first
		Now:       func() time.Time { return ts("2026-12-02T08:00:00Z") },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Due on Dec 1 (the 1st of the month at 00:00 UTC): checked three
	// times (an error, then not run twice), run twice (a failure, then ok).
	if len(r.asked) != 3 || len(r.ran) != 2 || !r.ran[1].Equal(dec1) {
		t.Errorf("asked %v, ran %v", r.asked, r.ran)
	}
	if err := RunScheduler(ctx, r, SchedulerConfig{Schedule: "daily"}); err == nil {
		t.Error("an unknown schedule was accepted")
	}
}
