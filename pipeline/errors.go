package pipeline

import "errors"

var (
	// ErrUnavailable means JetStream could not take the events right now;
	// the caller should retry later. Nothing was acknowledged as accepted.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrTooLarge means the request exceeds the size or count limits.
	ErrTooLarge = errors.New("request too large")
	// ErrBehind means a read-your-writes barrier ran out of time before the
	// pipeline had stored every event acknowledged before it; the caller
	// should retry later (see [Behind] for how far behind it was).
	ErrBehind = errors.New("pipeline behind")
)
