package consumers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeAcker records how a message was settled.
type fakeAcker struct{ acked, doubleAcked, naked int }

func (a *fakeAcker) Ack() error                       { a.acked++; return nil }
func (a *fakeAcker) DoubleAck(context.Context) error  { a.doubleAcked++; return nil }
func (a *fakeAcker) NakWithDelay(time.Duration) error { a.naked++; return nil }

func testRunner(t *testing.T, h Handler, cfg RunnerConfig) *Runner {
	t.Helper()
	cfg.Stream, cfg.Durable, cfg.Logger = "S", "d", zerolog.Nop()
	cfg.setDefaults()
	return &Runner{cfg: cfg, h: h}
}

// TestShutdownDrainsTheBatchInHandForDrainTimeout: a batch being handled
// when the runner's context ends keeps its own context for DrainTimeout
// more, then it ends and the batch is nak'ed for another replica.
func TestShutdownDrainsTheBatchInHandForDrainTimeout(t *testing.T) {
	started := make(chan struct{})
	var handlerErr error
	r := testRunner(t, func(ctx context.Context, _ []*Message) error {
		close(started)
		<-ctx.Done()
		handlerErr = ctx.Err()
		return handlerErr
	}, RunnerConfig{AckWait: time.Hour, DrainTimeout: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	a := &fakeAcker{}
	done := make(chan struct{})
	go func() {
		r.handle(ctx, []*Message{{acker: a}})
		close(done)
	}()
	<-started
	select {
	case <-done:
		t.Fatal("the handler's context ended while the runner was still running")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch in hand outlived DrainTimeout after shutdown")
	}
	if !errors.Is(handlerErr, context.Canceled) || a.naked != 1 || a.acked+a.doubleAcked != 0 {
		t.Fatalf("handler ctx error %v, settled %+v; want canceled and one nak", handlerErr, a)
	}
}

// TestABatchFinishedDuringTheDrainIsAcked: a batch that finishes within
// DrainTimeout after shutdown is acknowledged, the last with a double ack.
func TestABatchFinishedDuringTheDrainIsAcked(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	r := testRunner(t, func(ctx context.Context, _ []*Message) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, RunnerConfig{AckWait: time.Hour, DrainTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	first, last := &fakeAcker{}, &fakeAcker{}
	done := make(chan struct{})
	go func() {
		r.handle(ctx, []*Message{{acker: first}, {acker: last}})
		close(done)
	}()
	<-started
	cancel()
	close(release)
	<-done
	if first.acked != 1 || last.doubleAcked != 1 || first.naked+last.naked != 0 {
		t.Fatalf("settled first %+v, last %+v; want an ack and a double ack", first, last)
	}
}
