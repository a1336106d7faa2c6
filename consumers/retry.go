package consumers

import (
	"context"
	"time"
)

// RetryConfig bounds in-process retries of a batch.
type RetryConfig struct {
	// MaxAttempts including the first call (default 5).
	MaxAttempts int
	// InitialBackoff before the second attempt (default 100ms); doubles up
	// to MaxBackoff (default 5s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

func (c *RetryConfig) setDefaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
}

// Retry calls the handler again after a retryable error, with exponential
// backoff, until it succeeds, fails permanently, runs out of attempts or the
// context ends. The last error is returned; the runner then naks the batch
// and JetStream redelivers it later.
func Retry(cfg RetryConfig) Middleware {
	cfg.setDefaults()
	return func(next Handler) Handler {
		return func(ctx context.Context, batch []*Message) error {
			backoff := cfg.InitialBackoff
			var err error
			for attempt := 1; ; attempt++ {
				err = next(ctx, batch)
				if err == nil || IsPermanent(err) || attempt >= cfg.MaxAttempts {
					return err
				}
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					t.Stop()
					return err
				case <-t.C:
				}
				backoff = min(backoff*2, cfg.MaxBackoff)
			}
		}
	}
}
