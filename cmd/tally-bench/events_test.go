package main

import (
	"testing"
	"time"

	"github.com/tally-billing/tally/schemas"
)

func TestGenerateEventsMix(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	const n = 50_000
	events, err := generateEvents(n, 7, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[schemas.Identity]bool, n)
	msgIDs := make(map[string]bool, n)
	types := map[schemas.Type]int{}
	tenants := map[string]bool{}
	providers := map[string]bool{}
	for i, ev := range events {
		e, err := schemas.Decode(ev.raw)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ids[e.Identity()] || msgIDs[ev.msgID] {
			t.Fatalf("event %d: identity %v used twice", i, e.Identity())
		}
		ids[e.Identity()], msgIDs[ev.msgID] = true, true
		if !e.Time.Before(now) || e.Time.Before(now.Add(-timeSpan)) {
			t.Fatalf("event %d: time %s not in the hour before %s", i, e.Time, now)
		}
		types[e.Type]++
		if e.Type.ProviderSubject() {
			providers[e.Subject] = true
		} else {
			tenants[e.Subject] = true
		}
	}
	share := func(ts ...schemas.Type) float64 {
		k := 0
		for _, t := range ts {
			k += types[t]
		}
		return float64(k) / n
	}
	for _, c := range []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"credits", share(schemas.TypeAICreditsConsumed), 0.78, 0.82},
		{"seats", share(schemas.TypeSeatAssigned, schemas.TypeSeatReleased), 0.11, 0.13},
		{"sales", share(schemas.TypeSaleCompleted), 0.045, 0.055},
		{"refunds and packs", share(schemas.TypeRefundIssued, schemas.TypeAIPackPurchased), 0.025, 0.035},
	} {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s: share %.3f, want %.3f..%.3f", c.what, c.got, c.min, c.max)
		}
	}
	if len(tenants) < 900 || len(tenants) > numTenants {
		t.Errorf("%d tenants, want about %d", len(tenants), numTenants)
	}
	if len(providers) < 90 || len(providers) > numProviders {
		t.Errorf("%d providers, want about %d", len(providers), numProviders)
	}
}

func TestDecimalMilli(t *testing.T) {
	for m, want := range map[int]string{1: "0.001", 12500: "12.5", 3000: "3", 10010: "10.01"} {
		if got := decimalMilli(m); got != want {
			t.Errorf("decimalMilli(%d) = %q, want %q", m, got, want)
		}
	}
}

func TestLatencyPercentiles(t *testing.T) {
	r := newLatencyRecorder(100*10, 10)
	base := time.Now()
	for k := range 100 {
		r.sent(k*10+9, base.Add(time.Duration(k)*time.Second))
	}
	// Chunk k becomes queryable (k+1) ms after it was sent.
	for k := range 100 {
		r.observe(sample{at: base.Add(time.Duration(k)*time.Second + time.Duration(k+1)*time.Millisecond), count: uint64((k + 1) * 10)})
	}
	p50, p99, maxMs := r.percentiles()
	if p50 != 50 || p99 != 99 || maxMs != 100 {
		t.Errorf("p50 %v p99 %v max %v, want 50 99 100", p50, p99, maxMs)
	}
}
