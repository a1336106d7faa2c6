package billing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeCloser records what the scheduler asked; the first IsClosed ends
// the run (ctx is cancelled), so RunScheduler does one check and returns
// without waiting for its ticker.
type fakeCloser struct {
	cancel   context.CancelFunc
	closed   bool
	checkErr error
	closeErr error
	asked    []Period // IsClosed
	closes   []Period
}

func (c *fakeCloser) IsClosed(_ context.Context, p Period) (bool, error) {
	c.asked = append(c.asked, p)
	c.cancel()
	return c.closed, c.checkErr
}

func (c *fakeCloser) Close(_ context.Context, p Period) (CloseResult, error) {
	c.closes = append(c.closes, p)
	return CloseResult{Period: p.String()}, c.closeErr
}

// At 2026-12-01 02:00 with the default grace of an hour, November is due
// (the month before the one containing 01:00 on 1 December).
func TestRunSchedulerClosesTheDuePeriodOnce(t *testing.T) {
	now := at(2026, 12, 1, 2)
	nov := Period{Year: 2026, Month: time.November}
	boom := errors.New("boom")
	tests := []struct {
		name      string
		closer    fakeCloser
		notBefore time.Time
		leader    func(context.Context) bool
		wantClose bool
	}{
		{name: "due and open", wantClose: true},
		{name: "a failed close is logged, retried at the next check", closer: fakeCloser{closeErr: boom}, wantClose: true},
		{name: "already closed", closer: fakeCloser{closed: true}},
		{name: "the check fails", closer: fakeCloser{checkErr: boom}},
		{name: "ended before Tally's time", notBefore: nov.End()},
		{name: "another replica leads", leader: func(context.Context) bool { return false }},
		{name: "this replica leads", leader: func(context.Context) bool { return true }, wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := tt.closer
			c.cancel = cancel
			err := RunScheduler(ctx, &c, SchedulerConfig{Check: time.Hour, NotBefore: tt.notBefore, Leader: tt.leader,
				Now: func() time.Time { return now }, Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.asked) != 1 || c.asked[0] != nov {
				t.Fatalf("asked about %v, want November once", c.asked)
			}
			if (len(c.closes) == 1 && c.closes[0] == nov) != tt.wantClose || len(c.closes) > 1 {
				t.Errorf("closed %v, want November closed: %v", c.closes, tt.wantClose)
			}
		})
	}
}
