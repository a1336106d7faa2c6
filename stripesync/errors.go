package stripesync

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is returned, before any request is sent, for an invoice or
	// transfer that cannot be pushed as given: a missing id, an unknown
	// currency, an amount with more digits than the currency allows, a
	// duplicate line id.
	ErrInvalid = errors.New("invalid input")

	// ErrRejected is wrapped by every [*PermanentError]: Stripe answered
	// with a 4xx that retrying with the same request cannot fix. The caller
	// records the reason (invoice send_failed, payout failed) and must not
	// loop.
	ErrRejected = errors.New("rejected by stripe")

	// ErrUnavailable is returned when a request still failed with a
	// retryable error (429, 5xx, timeout, connection error) after
	// Config.MaxAttempts attempts. Retrying later is safe: the same
	// idempotency keys are used.
	ErrUnavailable = errors.New("stripe unavailable")

	// ErrConflict is returned when Stripe already holds an object carrying
	// Tally's id whose contents differ from what Tally asks for (another
	// amount, currency, customer or destination). Nothing is written.
	ErrConflict = errors.New("stripe object conflicts with tally's")
)

// PermanentError is Stripe's answer to a request it rejected with a 4xx that
// is not worth retrying (bad parameters, an account that cannot receive
// transfers, an invalid key, ...). It wraps [ErrRejected].
type PermanentError struct {
	Op          string // what was being done, e.g. "creating invoice"
	Status      int    // HTTP status
	Type        string // Stripe error type, e.g. "invalid_request_error"
	Code        string // Stripe error code, e.g. "parameter_invalid_integer"; may be empty
	DeclineCode string
	Param       string
	Message     string // Stripe's human-readable message
	RequestID   string // Stripe's Request-Id, for support
}

// Error is a one-line reason fit to be stored on an invoice or payout.
func (e *PermanentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: status %d", e.Op, ErrRejected, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Param != "" {
		fmt.Fprintf(&b, " (param %s)", e.Param)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrRejected) true. The stripe-go error is not
// kept: its text may quote the secret key, which Message has redacted.
func (e *PermanentError) Unwrap() error { return ErrRejected }

// asRefusal marks an error that retrying cannot fix ([ErrRejected],
// [ErrInvalid], [ErrConflict]) with the calling domain's class of refusal
// (so errors.Is(err, class) holds), keeping its text, which the domain
// stores as the reason. Any other error, and nil, is returned as it is.
func asRefusal(err, class error) error {
	if errors.Is(err, ErrRejected) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) {
		return refusal{err: err, class: class}
	}
	return err
}

// refusal is an error marked with a domain's class of refusal.
type refusal struct {
	err, class error
}

func (r refusal) Error() string   { return r.err.Error() }
func (r refusal) Unwrap() []error { return []error{r.class, r.err} }
