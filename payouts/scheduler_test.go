package payouts

import (
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
