package consumers

import (
	"context"
	"fmt"
)

// DeadLetterPublisher stores a message that can never be processed, with
// the reason, in the dead-letter store. It must be idempotent per message
// (stream, sequence): a batch may be dead-lettered again after a crash.
type DeadLetterPublisher interface {
	PublishDeadLetter(ctx context.Context, m *Message, reason error) error
}

// DeadLetter publishes every rejected message of a batch, and every message
// of a batch that failed permanently, to dlq. Only when all of them are
// stored does it report success, so the runner acknowledges nothing that is
// not kept somewhere.
func DeadLetter(dlq DeadLetterPublisher) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, batch []*Message) error {
			err := next(ctx, batch)
			if err != nil && !IsPermanent(err) {
				return err
			}
			for _, m := range batch {
				if err != nil && m.rejected == nil {
					m.rejected = err
				}
				if m.rejected == nil {
					continue
				}
				if perr := dlq.PublishDeadLetter(ctx, m, m.rejected); perr != nil {
					return fmt.Errorf("dead-lettering %s#%d: %w", m.Stream, m.StreamSeq, perr)
				}
			}
			return nil
		}
	}
}
