package aggregators

import (
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// Usage is a tenant's usage per meter over [From, To).
type Usage struct {
	Tenant      string                      `json:"tenant"`
	From        time.Time                   `json:"from"`
	To          time.Time                   `json:"to"`
	AICredits   AICreditUsage               `json:"ai_credits"`
	AIPacks     PackUsage                   `json:"ai_packs"`
	Seats       map[string]SeatUsage        `json:"seats"`
	Marketplace map[string]MarketplaceUsage `json:"marketplace"`
}

// AICreditUsage is the AI credits consumed, in total and by feature.
type AICreditUsage struct {
	Total     decimal.Decimal            `json:"total"`
	Events    int64                      `json:"events"`
	ByFeature map[string]decimal.Decimal `json:"by_feature"`
}

// PackUsage is the AI credit packs purchased.
type PackUsage struct {
	Count   int64           `json:"count"`
	Credits decimal.Decimal `json:"credits"`
}

// SeatUsage is the seats of one type: the peak assigned at the same time
// inside the window, and the number assigned at its end.
type SeatUsage struct {
	Peak  int64 `json:"peak"`
	AtEnd int64 `json:"at_end"`
	// UnmatchedReleases counts releases of seats that were not assigned;
	// they change nothing (a seat count never goes negative).
	UnmatchedReleases int64 `json:"unmatched_releases,omitempty"`
}

// MarketplaceUsage is the marketplace activity of one currency for the
// account as the selling provider.
type MarketplaceUsage struct {
	Sales    int64           `json:"sales"`
	Gross    decimal.Decimal `json:"gross"`
	Tax      decimal.Decimal `json:"tax"`
	Refunds  int64           `json:"refunds"`
	Refunded decimal.Decimal `json:"refunded"`
}

// SeatEvent is one seat assignment or release.
type SeatEvent struct {
	Time     time.Time
	Assigned bool // false: released
	UserID   string
	SeatType string
	// Seq is the event's sequence in the events stream, when known.
	Seq uint64
}

// UnmatchedReleases returns the releases in [from, to) of seats that were
// not held at that moment (by the rules of PeakSeats). They change nothing;
// billing dead-letters them.
func UnmatchedReleases(events []SeatEvent, from, to time.Time) []SeatEvent {
	var out []SeatEvent
	walkSeats(events, to, func(e SeatEvent, held bool) {
		if !e.Assigned && !held && !e.Time.Before(from) {
			out = append(out, e)
		}
	}, nil)
	return out
}

// walkSeats applies the seat events before to in order — by time, releases
// before assignments at one instant — calling each with whether the seat
// was held just before it, and after with the count per seat type once
// every event of an instant has applied.
func walkSeats(events []SeatEvent, to time.Time, each func(e SeatEvent, held bool), after func(t time.Time, count map[string]int64)) {
	sorted := make([]SeatEvent, 0, len(events))
	for _, e := range events {
		if e.Time.Before(to) {
			sorted = append(sorted, e)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.Before(sorted[j].Time)
		}
		return !sorted[i].Assigned && sorted[j].Assigned
	})
	type seat struct{ user, kind string }
	held := map[seat]bool{}
	count := map[string]int64{}
	for i := 0; i < len(sorted); {
		t := sorted[i].Time
		for ; i < len(sorted) && sorted[i].Time.Equal(t); i++ {
			e := sorted[i]
			k := seat{e.UserID, e.SeatType}
			if _, ok := count[e.SeatType]; !ok {
				count[e.SeatType] = 0
			}
			if each != nil {
				each(e, held[k])
			}
			switch {
			case e.Assigned && !held[k]:
				held[k] = true
				count[e.SeatType]++
			case !e.Assigned && held[k]:
				delete(held, k)
				count[e.SeatType]--
			}
		}
		if after != nil {
			after(t, count)
		}
	}
}

// PeakSeats computes seat usage per seat type over [from, to) from every
// seat event before to (state carries over from earlier periods). A seat is
// the pair (user, seat type): assigning it twice holds one seat, releasing
// it when not held changes nothing. All events of one instant apply
// together, releases before assignments, and only the state after the
// instant counts toward the peak.
func PeakSeats(events []SeatEvent, from, to time.Time) map[string]SeatUsage {
	out := map[string]SeatUsage{}
	last := map[string]int64{}
	observe := func(count map[string]int64) {
		for kind, n := range count {
			u := out[kind]
			u.Peak = max(u.Peak, n)
			out[kind] = u
		}
	}
	carried := false
	walkSeats(events, to, func(e SeatEvent, held bool) {
		if _, ok := out[e.SeatType]; !ok {
			out[e.SeatType] = SeatUsage{}
		}
		if !e.Assigned && !held && !e.Time.Before(from) {
			u := out[e.SeatType]
			u.UnmatchedReleases++
			out[e.SeatType] = u
		}
	}, func(t time.Time, count map[string]int64) {
		if !t.Before(from) {
			if !carried && t.After(from) {
				// The state carried into the window counts, unless events
				// at the window's first instant change it.
				observe(last)
			}
			carried = true
			observe(count)
		}
		for k, v := range count {
			last[k] = v
		}
	})
	if !carried {
		observe(last)
	}
	for kind, n := range last {
		u := out[kind]
		u.AtEnd = n
		out[kind] = u
	}
	return out
}
