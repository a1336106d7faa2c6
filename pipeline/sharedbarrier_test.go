package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestSharedBarrierKeepsTheContract: many barriers at once, each started
// after some events were acknowledged, return only once the sink has
// stored every one of them, with a position at or past them; one that
// cannot be served in time is a *Behind with the events it lacks.
func TestSharedBarrierKeepsTheContract(t *testing.T) {
	js := jetStream(t)
	sink := durable(t, js, EventsStream, "sink")
	durable(t, js, IngestStream, "validator")
	w, err := NewWatermark(js, WatermarkConfig{Validator: "validator", Sink: "sink", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSharedBarrier(w, 0)
	ctx := context.Background()

	if _, err := s.Barrier(ctx); err != nil {
		t.Fatalf("empty pipeline: %v", err)
	}
	publishN(t, js, EventsSubjectPrefix+"x", 4)
	_, err = s.Barrier(ctx)
	var behind *Behind
	if !errors.As(err, &behind) || behind.Unstored != 4 {
		t.Fatalf("nothing stored: got %v, want a *Behind with 4 unstored", err)
	}

	// 20 readers wait; the sink stores 2, then the rest: none returns
	// before all 4 are stored.
	w, err = NewWatermark(js, WatermarkConfig{Validator: "validator", Sink: "sink", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s = NewSharedBarrier(w, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []Progress
	var stored bool
	var early int
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.Barrier(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("barrier: %v", err)
				return
			}
			if !stored {
				early++
			}
			got = append(got, p)
		}()
	}
	settle(t, js, sink, 2, false)
	time.Sleep(20 * time.Millisecond) // give a wrong barrier the chance to return early
	mu.Lock()
	stored = true
	mu.Unlock()
	settle(t, js, sink, 2, false)
	wg.Wait()
	if early != 0 {
		t.Errorf("%d barriers returned before the 4 events were stored", early)
	}
	for _, p := range got {
		if p.Events.Through < 4 || p.Events.Last != 4 || p.Events.Pending != 0 {
			t.Errorf("progress %+v, want through ≥ 4 of last 4", p.Events)
		}
	}

	// A later barrier sees a later event: its mark is read after it was
	// acknowledged.
	publishN(t, js, EventsSubjectPrefix+"x", 1)
	done := make(chan Progress, 1)
	go func() {
		p, err := s.Barrier(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- p
	}()
	settle(t, js, sink, 1, false)
	if p := <-done; p.Events.Last != 5 || p.Events.Through < 5 {
		t.Errorf("progress %+v, want through 5", p.Events)
	}
}
