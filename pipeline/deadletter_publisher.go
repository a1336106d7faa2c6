package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
)

// DeadLetters publishes rejected messages to the dead-letter stream. It
// implements consumers.DeadLetterPublisher.
type DeadLetters struct {
	pub *Publisher
}

// NewDeadLetters returns a dead-letter publisher.
func NewDeadLetters(pub *Publisher) (*DeadLetters, error) {
	if pub == nil {
		return nil, errors.New("pipeline: dead letters need a publisher")
	}
	return &DeadLetters{pub: pub}, nil
}

// PublishDeadLetter stores m with the reason. The message id is derived
// from the origin (stream, sequence), so doing it again after a crash
// stores it once.
func (d *DeadLetters) PublishDeadLetter(ctx context.Context, m *consumers.Message, reason error) error {
	dl := nats.NewMsg(DeadLetterSubjectPrefix + strings.ToLower(m.Stream))
	dl.Data = m.Data
	dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq:%s:%d", m.Stream, m.StreamSeq))
	dl.Header.Set(consumers.HeaderReason, headerSafe(reason.Error()))
	var fe *schemas.FieldError
	if errors.As(reason, &fe) {
		dl.Header.Set(consumers.HeaderField, headerSafe(fe.Field))
	}
	dl.Header.Set(consumers.HeaderOriginStream, m.Stream)
	dl.Header.Set(consumers.HeaderOriginSeq, strconv.FormatUint(m.StreamSeq, 10))
	dl.Header.Set(consumers.HeaderOriginSubj, m.Subject)
	if _, err := d.pub.PublishSync(ctx, dl); err != nil {
		return fmt.Errorf("publishing dead letter: %w", err)
	}
	return nil
}

// headerSafe keeps a header value on one line and bounded in size.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}
