package consumers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func batchOf(n int) []*Message {
	out := make([]*Message, n)
	for i := range out {
		out[i] = &Message{Stream: "S", StreamSeq: uint64(i + 1)}
	}
	return out
}

func TestRetry(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name      string
		fails     int   // calls that fail before success
		failWith  error // error of the failing calls
		wantCalls int
		wantErr   error
	}{
		{"success at once", 0, errBoom, 1, nil},
		{"retryable then success", 2, errBoom, 3, nil},
		{"retryable until attempts run out", 10, errBoom, 4, errBoom},
		{"permanent is not retried", 10, Permanent(errBoom), 1, errBoom},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			h := Retry(RetryConfig{MaxAttempts: 4, InitialBackoff: time.Millisecond})(func(context.Context, []*Message) error {
				calls++
				if calls <= tc.fails {
					return tc.failWith
				}
				return nil
			})
			err := h(context.Background(), batchOf(1))
			if calls != tc.wantCalls {
				t.Errorf("calls %d, want %d", calls, tc.wantCalls)
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRetryStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	h := Retry(RetryConfig{MaxAttempts: 100, InitialBackoff: time.Hour})(func(context.Context, []*Message) error {
		calls++
		cancel()
		return errors.New("down")
	})
	if err := h(ctx, batchOf(1)); err == nil || calls != 1 {
		t.Fatalf("err %v after %d calls; want the error after one call", err, calls)
	}
}

type recordingDLQ struct {
	got  map[uint64]string
	fail bool
}

func (r *recordingDLQ) PublishDeadLetter(_ context.Context, m *Message, reason error) error {
	if r.fail {
		return errors.New("dlq down")
	}
	if r.got == nil {
		r.got = map[uint64]string{}
	}
	r.got[m.StreamSeq] = reason.Error()
	return nil
}

func TestDeadLetter(t *testing.T) {
	t.Run("rejected messages go to the DLQ, the rest does not", func(t *testing.T) {
		dlq := &recordingDLQ{}
		h := DeadLetter(dlq)(func(_ context.Context, b []*Message) error {
			b[1].Reject(fmt.Errorf("bad field"))
			return nil
		})
		if err := h(context.Background(), batchOf(3)); err != nil {
			t.Fatal(err)
		}
		if len(dlq.got) != 1 || dlq.got[2] != "bad field" {
			t.Fatalf("dead letters %v, want only seq 2 with its reason", dlq.got)
		}
	})
	t.Run("a permanent error dead-letters the whole batch", func(t *testing.T) {
		dlq := &recordingDLQ{}
		h := DeadLetter(dlq)(func(context.Context, []*Message) error { return Permanent(errors.New("poison")) })
		if err := h(context.Background(), batchOf(2)); err != nil {
			t.Fatal(err)
		}
		if len(dlq.got) != 2 || dlq.got[1] != "poison" || dlq.got[2] != "poison" {
			t.Fatalf("dead letters %v", dlq.got)
		}
	})
	t.Run("a retryable error passes through untouched", func(t *testing.T) {
		dlq := &recordingDLQ{}
		errDown := errors.New("down")
		h := DeadLetter(dlq)(func(context.Context, []*Message) error { return errDown })
		if err := h(context.Background(), batchOf(2)); !errors.Is(err, errDown) || len(dlq.got) != 0 {
			t.Fatalf("err %v, dead letters %v", err, dlq.got)
		}
	})
	t.Run("if the DLQ cannot store, the batch fails (nothing is acked)", func(t *testing.T) {
		dlq := &recordingDLQ{fail: true}
		h := DeadLetter(dlq)(func(_ context.Context, b []*Message) error {
			b[0].Reject(errors.New("bad"))
			return nil
		})
		if err := h(context.Background(), batchOf(1)); err == nil || IsPermanent(err) {
			t.Fatalf("err %v, want a retryable error", err)
		}
	})
}

func TestChainOrderAndRecover(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next Handler) Handler {
			return func(ctx context.Context, b []*Message) error {
				order = append(order, name)
				return next(ctx, b)
			}
		}
	}
	h := Chain(func(context.Context, []*Message) error { panic("kaboom") }, mw("outer"), mw("inner"), Recover())
	err := h(context.Background(), batchOf(1))
	if err == nil || IsPermanent(err) {
		t.Fatalf("a panic must become a retryable error, got %v", err)
	}
	if fmt.Sprint(order) != "[outer inner]" {
		t.Fatalf("order %v", order)
	}
}

func TestSeqToken(t *testing.T) {
	a := SeqToken("events", []uint64{5, 6, 9})
	if a != SeqToken("events", []uint64{5, 6, 9}) {
		t.Fatal("same sequences, different tokens")
	}
	for _, other := range [][]uint64{{5, 6}, {5, 7, 9}, {5, 6, 9, 10}} {
		if SeqToken("events", other) == a {
			t.Fatalf("%v has the token of [5 6 9]", other)
		}
	}
	if SeqToken("deadletters", []uint64{5, 6, 9}) == a {
		t.Fatal("the kind must be part of the token")
	}
}
