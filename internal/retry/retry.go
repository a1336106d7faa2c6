// Package retry retries a start-up step that fails while a service it
// needs is not there yet (a NATS server restarting, a cluster forming).
package retry

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Until calls try until it returns nil or ctx ends, waiting first between
// the first two attempts and twice as long after each further failure, up
// to most. Each failure is logged as a warning: "<what>; retrying". When
// ctx ends first it returns try's last error.
func Until(ctx context.Context, log zerolog.Logger, what string, first, most time.Duration, try func(context.Context) error) error {
	for wait := first; ; wait = min(2*wait, most) {
		err := try(ctx)
		if err == nil {
			return nil
		}
		log.Warn().Err(err).Dur("retry_in", wait).Msg(what + "; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
