package pipeline

import "errors"

var (
	// ErrUnavailable means JetStream could not take the events right now;
	// the caller should retry later. Nothing was acknowledged as accepted.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrTooLarge means the request exceeds the size or count limits.
	ErrTooLarge = errors.New("request too large")
)
