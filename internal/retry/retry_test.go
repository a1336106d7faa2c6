package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestUntilRetriesUntilTheStepSucceeds(t *testing.T) {
	calls := 0
	err := Until(context.Background(), zerolog.Nop(), "step", time.Millisecond, 2*time.Millisecond, func(context.Context) error {
		if calls++; calls < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("err %v after %d calls; want nil after 4", err, calls)
	}
}

func TestUntilReturnsTheLastErrorWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	last := errors.New("still down")
	err := Until(ctx, zerolog.Nop(), "step", time.Millisecond, time.Millisecond, func(context.Context) error {
		if calls++; calls == 3 {
			cancel()
		}
		return last
	})
	if !errors.Is(err, last) || calls != 3 {
		t.Fatalf("err %v after %d calls; want %v after 3", err, calls, last)
	}
}
