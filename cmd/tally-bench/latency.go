package main

import (
	"math"
	"slices"
	"time"
)

// latencyRecorder pairs, for every chunk of events, the moment its last
// event was published with the first poll whose stored count covered the
// whole chunk. sent is called by the publishing goroutine only and observe
// by the polling goroutine only; percentiles is called after both ended.
type latencyRecorder struct {
	chunk   int
	sentAt  []time.Time
	covered []time.Time
	next    int // first chunk not yet covered
}

func newLatencyRecorder(n, chunk int) *latencyRecorder {
	chunks := n / chunk
	return &latencyRecorder{chunk: chunk, sentAt: make([]time.Time, chunks), covered: make([]time.Time, chunks)}
}

func (r *latencyRecorder) sent(i int, at time.Time) {
	if (i+1)%r.chunk == 0 && (i+1)/r.chunk <= len(r.sentAt) {
		r.sentAt[(i+1)/r.chunk-1] = at
	}
}

func (r *latencyRecorder) observe(s sample) {
	for r.next < len(r.covered) && uint64((r.next+1)*r.chunk) <= s.count {
		r.covered[r.next] = s.at
		r.next++
	}
}

// percentiles returns the 50th and 99th percentile and the maximum latency
// in milliseconds (nearest rank).
func (r *latencyRecorder) percentiles() (p50, p99, maxMs float64) {
	lat := make([]float64, 0, len(r.sentAt))
	for k, sent := range r.sentAt {
		if sent.IsZero() || r.covered[k].IsZero() {
			continue
		}
		lat = append(lat, float64(r.covered[k].Sub(sent))/float64(time.Millisecond))
	}
	return percentiles(lat)
}

// percentiles returns the 50th and 99th percentile (nearest rank) and the
// maximum of ms, or zeros if it is empty. It sorts ms.
func percentiles(ms []float64) (p50, p99, maxMs float64) {
	if len(ms) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ms)
	rank := func(p float64) float64 {
		return ms[max(0, int(math.Ceil(p*float64(len(ms))))-1)]
	}
	return rank(0.50), rank(0.99), ms[len(ms)-1]
}
