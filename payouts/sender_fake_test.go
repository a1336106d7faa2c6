package payouts

import (
	"context"
	"fmt"
	"sync"
)

// fakeSender is Stripe Connect: one transfer per payout id whatever the
// number of calls. answer, when set, decides each call's error.
type fakeSender struct {
	mu        sync.Mutex
	calls     map[string]int    // payout id → calls
	transfers map[string]string // payout id → transfer id, once made
	sent      []Transfer        // every request, in order
	answer    func(t Transfer, call int) error
}

func newFakeSender() *fakeSender {
	return &fakeSender{calls: map[string]int{}, transfers: map[string]string{}}
}

func (f *fakeSender) PushTransfer(_ context.Context, t Transfer) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[t.PayoutID]++
	f.sent = append(f.sent, t)
	if f.answer != nil {
		if err := f.answer(t, f.calls[t.PayoutID]); err != nil {
			return "", err
		}
	}
	if _, ok := f.transfers[t.PayoutID]; !ok {
		f.transfers[t.PayoutID] = fmt.Sprintf("tr_%d", len(f.transfers)+1)
	}
	return f.transfers[t.PayoutID], nil
}

func (f *fakeSender) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// fakeRejecter records dead-lettered sequences with their reasons.
type fakeRejecter struct {
	mu       sync.Mutex
	rejected map[uint64]string
	err      error
}

func (f *fakeRejecter) RejectStored(_ context.Context, seqs []uint64, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.rejected == nil {
		f.rejected = map[uint64]string{}
	}
	for _, s := range seqs {
		f.rejected[s] = reason
	}
	return nil
}
