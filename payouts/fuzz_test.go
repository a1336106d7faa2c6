package payouts

import (
	"testing"
	"time"
)

// FuzzDueRun fuzzes the payout schedule setting (TALLY_PAYOUT_SCHEDULE,
// --payout-schedule) and the clock: only "monthly" (also the default "")
// and "weekly" are accepted, and the due run is the latest scheduled
// instant at or before now: midnight UTC on the 1st of now's month
// (monthly) or on the Monday of now's week (weekly).
func FuzzDueRun(f *testing.F) {
	for _, s := range []struct {
		schedule string
		now      int64
	}{
		{"monthly", time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC).UnixNano()},
		{"", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()},
		{"weekly", time.Date(2026, 11, 29, 23, 59, 59, 999999999, time.UTC).UnixNano()}, // a Sunday
		{"weekly", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).UnixNano()},            // a Monday
		{"Weekly", 0},
		{"daily", 0},
		{"monthly ", -1},
	} {
		f.Add(s.schedule, s.now)
	}
	f.Fuzz(func(t *testing.T, schedule string, nowNanos int64) {
		now := time.Unix(0, nowNanos).In(time.FixedZone("X", 5*3600+1800)) // not UTC on purpose
		due, err := DueRun(now, schedule)
		switch schedule {
		case Monthly, "", Weekly:
		default:
			if err == nil || !due.IsZero() {
				t.Fatalf("DueRun(%q) = %v, %v; want an error", schedule, due, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("DueRun(%q): %v", schedule, err)
		}
		if due.Location() != time.UTC || due.Hour() != 0 || due.Minute() != 0 || due.Second() != 0 || due.Nanosecond() != 0 {
			t.Fatalf("DueRun(%q, %v) = %v, not midnight UTC", schedule, now, due)
		}
		if due.After(now) {
			t.Fatalf("DueRun(%q, %v) = %v, after now", schedule, now, due)
		}
		// The next scheduled instant must be after now.
		var next time.Time
		if schedule == Weekly {
			if due.Weekday() != time.Monday {
				t.Fatalf("weekly run on a %v", due.Weekday())
			}
			next = due.AddDate(0, 0, 7)
		} else {
			if due.Day() != 1 {
				t.Fatalf("monthly run on day %d", due.Day())
			}
			next = due.AddDate(0, 1, 0)
		}
		if !next.After(now) {
			t.Fatalf("DueRun(%q, %v) = %v, but %v is later and not after now", schedule, now, due, next)
		}
	})
}
