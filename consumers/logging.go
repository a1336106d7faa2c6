package consumers

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Log logs failed batches at warn level and rejected messages at info
// level, with the batch's sequence range.
func Log(log zerolog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, batch []*Message) error {
			start := time.Now()
			err := next(ctx, batch)
			if len(batch) == 0 {
				return err
			}
			ev := log.Debug()
			if err != nil {
				ev = log.Warn().Err(err).Bool("permanent", IsPermanent(err))
			}
			ev.Int("size", len(batch)).
				Uint64("first_seq", batch[0].StreamSeq).
				Uint64("last_seq", batch[len(batch)-1].StreamSeq).
				Dur("took", time.Since(start)).
				Msg("batch handled")
			if err == nil {
				for _, m := range batch {
					if m.rejected != nil {
						log.Info().Str("stream", m.Stream).Uint64("seq", m.StreamSeq).
							Str("reason", m.rejected.Error()).Msg("message dead-lettered")
					}
				}
			}
			return err
		}
	}
}

// Recover turns a panic in the handler into a retryable error, so one bad
// batch cannot take the process down; the batch is redelivered.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, batch []*Message) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("handler panicked: %v", r)
				}
			}()
			return next(ctx, batch)
		}
	}
}
