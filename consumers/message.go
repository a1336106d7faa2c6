package consumers

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// Message is one stream message handed to a Handler.
type Message struct {
	Subject   string
	Data      []byte
	Header    nats.Header
	Stream    string
	StreamSeq uint64
	// Delivered counts deliveries of this message, starting at 1.
	Delivered uint64
	// Timestamp is when the stream stored the message.
	Timestamp time.Time

	rejected error
	acker    acker
}

// acker is the part of a JetStream message the runner needs to settle it.
type acker interface {
	Ack() error
	DoubleAck(context.Context) error
	NakWithDelay(time.Duration) error
}

// Reject marks the message as permanently failed with reason; it is
// dead-lettered and acknowledged, the rest of the batch goes on.
func (m *Message) Reject(reason error) { m.rejected = reason }

// Rejected returns the reason given to Reject, or nil.
func (m *Message) Rejected() error { return m.rejected }

// Handler processes a batch of messages. See the package documentation for
// the meaning of its result. It must be safe to call again with the same
// messages (after a crash or a retry).
type Handler func(ctx context.Context, batch []*Message) error

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Chain wraps h with mws; the first middleware is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
