package webhooks

import (
	"math/rand/v2"
	"time"
)

// The retry schedule (docs/webhooks.md): after a failed attempt n (1 is
// the first), the next comes Backoff[n-1] later, the last step repeating,
// with ±10 % jitter, for as long as the next attempt would start within
// RetryFor of the delivery's creation; then the delivery is failed. With
// the steps below that is 12 attempts over about 68 hours.
var Backoff = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

const (
	// RetryFor is how long a delivery is retried after it was created.
	RetryFor = 72 * time.Hour
	// DisableAfter is how long an endpoint's deliveries may fail without a
	// success in between before the endpoint is disabled.
	DisableAfter = 5 * 24 * time.Hour
	// AttemptTimeout bounds one attempt: connecting, sending and reading
	// the answer.
	AttemptTimeout = 15 * time.Second
	// ResponseExcerpt is how much of a response body the log keeps.
	ResponseExcerpt = 4 << 10
)

// Jitter spreads a delay; the default is uniform in ±10 %.
type Jitter func(time.Duration) time.Duration

// DefaultJitter is uniform in [0.9 d, 1.1 d].
func DefaultJitter(d time.Duration) time.Duration {
	span := int64(d) / 5
	if span <= 0 {
		return d
	}
	return d - time.Duration(span/2) + time.Duration(rand.Int64N(span+1)) //nolint:gosec // timing spread, not a secret
}

// nextDelay is the wait after the failed attempt n (1-based) of
// schedule, unjittered: its last step repeats.
func nextDelay(schedule []time.Duration, n int) time.Duration {
	n = min(max(n, 1), len(schedule))
	return schedule[n-1]
}
