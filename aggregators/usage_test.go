package aggregators

import (
	"testing"
	"time"
)

func TestPeakSeats(t *testing.T) {
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := nov.AddDate(0, 1, 0)
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	assign := func(t time.Time, user, kind string) SeatEvent {
		return SeatEvent{Time: t, Assigned: true, UserID: user, SeatType: kind}
	}
	release := func(t time.Time, user, kind string) SeatEvent {
		return SeatEvent{Time: t, Assigned: false, UserID: user, SeatType: kind}
	}
	tests := []struct {
		name   string
		events []SeatEvent
		want   map[string]SeatUsage
	}{
		{
			name:   "no events",
			events: nil,
			want:   map[string]SeatUsage{},
		},
		{
			name: "three learners, one released: peak 3, 2 at end",
			events: []SeatEvent{
				assign(at(2, 0), "u1", "learner"), assign(at(3, 0), "u2", "learner"),
				assign(at(4, 0), "u3", "learner"), release(at(5, 0), "u1", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 3, AtEnd: 2}},
		},
		{
			name: "state carries over from the previous month",
			events: []SeatEvent{
				assign(time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC), "u1", "author"),
				assign(time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC), "u2", "author"),
				release(at(20, 0), "u2", "author"),
			},
			want: map[string]SeatUsage{"author": {Peak: 2, AtEnd: 1}},
		},
		{
			name: "a peak before the window does not count",
			events: []SeatEvent{
				assign(time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC), "u1", "learner"),
				assign(time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC), "u2", "learner"),
				release(time.Date(2026, 10, 9, 0, 0, 0, 0, time.UTC), "u2", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 1, AtEnd: 1}},
		},
		{
			name: "release and assign at one instant: no transient peak",
			events: []SeatEvent{
				assign(at(2, 0), "u1", "learner"),
				assign(at(10, 0), "u2", "learner"), release(at(10, 0), "u1", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 1, AtEnd: 1}},
		},
		{
			name: "releases at the first instant of the window apply before it counts",
			events: []SeatEvent{
				assign(time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC), "u1", "learner"),
				assign(time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC), "u2", "learner"),
				release(nov, "u1", "learner"), release(nov, "u2", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 0, AtEnd: 0}},
		},
		{
			name: "assigning twice holds one seat; unmatched release changes nothing",
			events: []SeatEvent{
				assign(at(2, 0), "u1", "learner"), assign(at(3, 0), "u1", "learner"),
				release(at(4, 0), "ghost", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 1, AtEnd: 1, UnmatchedReleases: 1}},
		},
		{
			name: "events at or after the end are ignored",
			events: []SeatEvent{
				assign(at(2, 0), "u1", "learner"),
				assign(dec, "u2", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 1, AtEnd: 1}},
		},
		{
			name: "seat types are counted apart",
			events: []SeatEvent{
				assign(at(2, 0), "u1", "learner"), assign(at(2, 0), "u1", "author"),
				assign(at(2, 1), "u2", "learner"),
			},
			want: map[string]SeatUsage{"learner": {Peak: 2, AtEnd: 2}, "author": {Peak: 1, AtEnd: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PeakSeats(tc.events, nov, dec)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d seat types %v, want %v", len(got), got, tc.want)
			}
			for kind, w := range tc.want {
				if got[kind] != w {
					t.Errorf("%s: got %+v, want %+v", kind, got[kind], w)
				}
			}
		})
	}
}

func TestUnmatchedReleases(t *testing.T) {
	at := func(day int) time.Time { return time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC) }
	events := []SeatEvent{
		{Time: at(1), Assigned: true, UserID: "u1", SeatType: "learner", Seq: 1},
		{Time: at(2), Assigned: false, UserID: "u1", SeatType: "learner", Seq: 2},  // matched
		{Time: at(3), Assigned: false, UserID: "u1", SeatType: "learner", Seq: 3},  // already released
		{Time: at(4), Assigned: false, UserID: "u2", SeatType: "author", Seq: 4},   // never assigned
		{Time: at(5), Assigned: true, UserID: "u3", SeatType: "learner", Seq: 5},   // assigned and released
		{Time: at(5), Assigned: false, UserID: "u3", SeatType: "learner", Seq: 6},  // at one instant: release first
		{Time: at(28), Assigned: false, UserID: "u9", SeatType: "learner", Seq: 7}, // outside the window
	}
	got := UnmatchedReleases(events, at(1), at(20))
	var seqs []uint64
	for _, e := range got {
		seqs = append(seqs, e.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 3 || seqs[1] != 4 || seqs[2] != 6 {
		t.Fatalf("unmatched releases %v, want sequences [3 4 6]", seqs)
	}
	if u := PeakSeats(events, at(1), at(20))["learner"]; u.Peak != 1 || u.AtEnd != 1 || u.UnmatchedReleases != 2 {
		t.Fatalf("learners %+v: a release before its assignment at one instant leaves the seat held", u)
	}
}
