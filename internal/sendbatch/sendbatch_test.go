package sendbatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRunRecordsEveryOutcomeOnceInBatches(t *testing.T) {
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	recorded := map[int]int{}
	var batches []int
	send := func(_ context.Context, it int) (bool, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		switch it % 10 {
		case 3: // refused: an outcome, and no error
			return true, nil
		case 7: // network failure: no outcome
			return false, fmt.Errorf("item %d: %w", it, errBoom)
		}
		return true, nil
	}
	record := func(_ context.Context, batch []int) error {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, len(batch))
		for _, it := range batch {
			recorded[it]++
		}
		return nil
	}
	err := Run(context.Background(), Config{Workers: 4, Batch: 64}, items, send, record)
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, want the failed sends' errors", err)
	}
	for _, it := range items {
		want := 1
		if it%10 == 7 {
			want = 0
		}
		if recorded[it] != want {
			t.Errorf("item %d recorded %d times, want %d", it, recorded[it], want)
		}
	}
	total := 0
	for i, n := range batches {
		if n < 1 || n > 64 {
			t.Errorf("batch %d holds %d outcomes, want 1..64", i, n)
		}
		total += n
	}
	if total != 900 {
		t.Errorf("%d outcomes recorded, want 900", total)
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d sends ran at once, want at most 4", p)
	}
}

func TestRunStopsWhenRecordingFails(t *testing.T) {
	items := make([]int, 50)
	var sends atomic.Int64
	send := func(context.Context, int) (bool, error) { sends.Add(1); return true, nil }
	record := func(context.Context, []int) error { return errBoom }
	err := Run(context.Background(), Config{Workers: 1, Batch: 5}, items, send, record)
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, want the record error", err)
	}
	if n := sends.Load(); n >= int64(len(items)) {
		t.Errorf("%d of %d sends happened after recording failed, want the run stopped early", n, len(items))
	}
}

var errBoom = errors.New("boom")
