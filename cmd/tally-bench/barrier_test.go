package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-billing/tally/pipeline"
)

func TestBarrierJudge(t *testing.T) {
	idle := waitStats{Samples: 10, P50Ms: 40}
	idleBarrier := waitStats{Samples: 10, P50Ms: 2}
	for _, c := range []struct {
		name           string
		barrier, close waitStats
		achieved       float64
		met            bool
		verdict        string
	}{
		// What the barrier adds is its own wait less its idle p50 (2 ms):
		// 862 − 2 = 860 ms; a close slowed by the load's CPU does not count.
		{"fast at the rate", waitStats{Samples: 40, P50Ms: 200, P99Ms: 862}, waitStats{Samples: 40, P50Ms: 300, P99Ms: 1900}, 19_990, true, "yes: the barrier adds 860 ms"},
		{"slow tail", waitStats{Samples: 40, P50Ms: 300, P99Ms: 1002}, waitStats{Samples: 40, P50Ms: 300, P99Ms: 1040}, 20_000, false, "no: the barrier adds 1000 ms"},
		{"a 503 fails whatever the times", waitStats{Samples: 40, Failed: 1}, waitStats{Samples: 40, P99Ms: 100}, 20_000, false, "no: 1 of 40 barriers"},
		{"a close 503 too", waitStats{Samples: 40}, waitStats{Samples: 40, Failed: 2, P99Ms: 100}, 20_000, false, "and 2 of 40 closes answered 503"},
		{"rate not reached", waitStats{Samples: 40}, waitStats{Samples: 40, P99Ms: 100}, 15_000, false, "not shown: ingest reached 15000 of 20000"},
		{"a run at a lower rate shows nothing", waitStats{Samples: 40}, waitStats{Samples: 40, P99Ms: 100}, 2_004, false, "not shown: ingest reached 2004 of"},
		{"no probe under load", waitStats{}, waitStats{}, 20_000, false, "not measured"},
	} {
		r := &barrierResult{IdleClose: idle, IdleBarrier: idleBarrier, Barrier: c.barrier, Close: c.close}
		r.judge(c.achieved)
		if r.Met != c.met || !strings.Contains(r.Verdict, c.verdict) {
			t.Errorf("%s: met %v, %q; want %v and %q", c.name, r.Met, r.Verdict, c.met, c.verdict)
		}
	}
}

// TestProberCounts503 checks that a barrier that timed out is a failed
// probe, kept with its time, and that any other error status stops the
// phase.
func TestProberCounts503(t *testing.T) {
	var barriers atomic.Int32
	var closeStatus atomic.Int32
	closeStatus.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fin" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case barrierPath:
			if barriers.Add(1) == 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"behind":{"unstored":12}}`))
				return
			}
			_, _ = w.Write([]byte(`{}`))
		case closePath:
			w.WriteHeader(int(closeStatus.Load()))
			_, _ = w.Write([]byte(`{"already_closed":true}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	p := &prober{addr: strings.TrimPrefix(srv.URL, "http://"), key: "fin", interval: time.Millisecond}
	rounds := 0
	if err := p.run(context.Background(), 3, nil, func() { rounds++ }); err != nil {
		t.Fatal(err)
	}
	if rounds != 3 || len(p.barrier.ms) != 3 || len(p.close.ms) != 3 {
		t.Fatalf("%d rounds, %d barriers, %d closes; want 3 of each", rounds, len(p.barrier.ms), len(p.close.ms))
	}
	if s := p.barrier.stats(); s.Samples != 3 || s.Failed != 1 || !strings.Contains(p.barrier.firstFailure, "unstored") {
		t.Errorf("barrier stats %+v, first failure %q; want 3 samples, 1 failed with its body", s, p.barrier.firstFailure)
	}
	if s := p.barrier.stats(); len(s.Ms) != 3 || s.Ms[1] != p.barrier.ms[1] {
		t.Errorf("barrier times %v, want the 3 in the order taken %v", s.Ms, p.barrier.ms)
	}
	if s := p.close.stats(); s.Failed != 0 {
		t.Errorf("close stats %+v, want no failure", s)
	}
	closeStatus.Store(http.StatusConflict)
	if err := p.run(context.Background(), 1, nil, nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("a 409 close: %v, want an error", err)
	}
}

// TestSendPacedKeepsTheRate posts 10 batches at 5,000 events/s: the last
// batch is due after 180ms, so the whole send cannot take less.
func TestSendPacedKeepsTheRate(t *testing.T) {
	var accepted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		accepted.Add(int64(len(batch)))
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(pipeline.IngestResult{Accepted: len(batch)})
	}))
	defer srv.Close()
	events := make([]event, 1000)
	for i := range events {
		events[i] = event{raw: []byte(`{}`)}
	}
	h := newHTTPSender(strings.TrimPrefix(srv.URL, "http://"), "ingest", 2)
	var sent atomic.Int64
	start := time.Now()
	err := h.sendPaced(context.Background(), events, 100, 2, newPacer(5000).until, func(n int) { sent.Add(int64(n)) })
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if accepted.Load() != 1000 || sent.Load() != 1000 {
		t.Errorf("%d accepted, %d reported sent; want 1000", accepted.Load(), sent.Load())
	}
	if elapsed < 180*time.Millisecond {
		t.Errorf("sent in %s, want at least 180ms at 5,000 events/s", elapsed)
	}
}

func TestAcceptClock(t *testing.T) {
	var c acceptClock
	if c.rate() != 0 {
		t.Errorf("rate before any batch: %v", c.rate())
	}
	base := time.Now()
	// Ten batches of 1,000 answered every 50ms: 20,000 events/s, although
	// 10,000 events over the 450ms between the first and the last answer
	// would say 22,222.
	for k := range 10 {
		c.accepted(1000, base.Add(time.Duration(k)*50*time.Millisecond))
	}
	if got := c.rate(); got < 19_999 || got > 20_001 {
		t.Errorf("rate %.1f, want 20000", got)
	}
}
