package billing

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	p, err := ParsePeriod("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if p.Start() != time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) || p.End() != time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("bounds %v %v", p.Start(), p.End())
	}
	if p.Next().String() != "2026-12" || prevPeriod(p).String() != "2026-10" || (Period{Year: 2026, Month: 12}).Next().String() != "2027-01" || prevPeriod(Period{Year: 2027, Month: 1}).String() != "2026-12" {
		t.Fatal("next/prev")
	}
	for _, bad := range []string{"2026-13", "2026-1", "26-11", "2026-11-01", "", "2026/11"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDuePeriod(t *testing.T) {
	cases := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 0, 59, 59, 0, time.UTC), "2026-10"}, // grace not over: November not due yet
		{time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), "2026-11"},
		{time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), "2026-11"},
		{time.Date(2027, 1, 1, 1, 0, 0, 0, time.UTC), "2026-12"},
	}
	for _, tc := range cases {
		if got := DuePeriod(tc.now, time.Hour).String(); got != tc.want {
			t.Errorf("DuePeriod(%v) = %s, want %s", tc.now, got, tc.want)
		}
	}
}
