package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Task is one delivery to do: a message to an endpoint.
type Task struct {
	DeliveryID string  `json:"delivery_id"`
	EndpointID string  `json:"endpoint_id"`
	Message    Message `json:"message"`
	// CreatedAt starts the delivery's RetryFor: when the fan-out made it,
	// or when a manual retry asked for it again.
	CreatedAt time.Time `json:"created_at"`
	Manual    bool      `json:"manual,omitempty"`
}

// Attempt outcomes, and the statuses of a delivery (its last attempt's).
const (
	OutcomeSucceeded = "succeeded"
	OutcomeRetrying  = "retrying"
	OutcomeFailed    = "failed"
)

// Attempt is one try of a delivery, as the delivery log keeps it.
type Attempt struct {
	DeliveryID string        `json:"delivery_id"`
	MessageID  string        `json:"message_id"`
	EndpointID string        `json:"endpoint_id"`
	Type       string        `json:"type"`
	Tenant     string        `json:"tenant,omitempty"`
	N          int           `json:"attempt"`
	At         time.Time     `json:"at"`
	Outcome    string        `json:"outcome"`
	HTTPStatus int           `json:"http_status,omitempty"`
	Latency    time.Duration `json:"-"`
	LatencyMS  int64         `json:"latency_ms"`
	Response   string        `json:"response,omitempty"`
	Error      string        `json:"error,omitempty"`
	NextAt     time.Time     `json:"next_attempt_at,omitzero"`
}

// Decision is what the queue does with a task after an attempt: forget
// it (Done), or offer it again after RetryIn.
type Decision struct {
	Done    bool
	RetryIn time.Duration
}

// Deliver makes attempt n (1 for the first) of t, logs it and decides
// what comes next. An error means the attempt could not be logged (or
// the endpoint read): the queue offers the task again soon, and the
// endpoint may see the message again, under the same id.
//
// The order: read the endpoint; sign and send (bounded by
// AttemptTimeout, the body read up to ResponseExcerpt, no redirect
// followed); log the attempt; on a failure, disable the endpoint when it
// has failed for DisableAfter without a success.
func (s *Service) Deliver(ctx context.Context, t Task, n int) (Decision, error) {
	now := s.cfg.Now().UTC()
	a := Attempt{DeliveryID: t.DeliveryID, MessageID: t.Message.ID, EndpointID: t.EndpointID,
		Type: t.Message.Type, Tenant: t.Message.Tenant, N: n, At: now}
	e, ok, err := s.cfg.Endpoints.Endpoint(ctx, t.EndpointID)
	if err != nil {
		return Decision{}, fmt.Errorf("reading endpoint %s: %w", t.EndpointID, err)
	}
	switch {
	case !ok:
		a.Outcome, a.Error = OutcomeFailed, "endpoint deleted"
		return Decision{Done: true}, s.record(ctx, a)
	case !e.DisabledAt.IsZero():
		a.Outcome, a.Error = OutcomeFailed, "endpoint disabled: "+e.DisabledReason
		return Decision{Done: true}, s.record(ctx, a)
	}
	s.send(ctx, e, t.Message, &a)
	if a.Outcome == OutcomeSucceeded {
		return Decision{Done: true}, s.record(ctx, a)
	}
	wait := s.cfg.Jitter(nextDelay(s.cfg.Backoff, n))
	a.Outcome = OutcomeFailed
	if next := a.At.Add(a.Latency).Add(wait); next.Sub(t.CreatedAt) <= RetryFor {
		a.Outcome, a.NextAt = OutcomeRetrying, next
	}
	if err := s.record(ctx, a); err != nil {
		return Decision{}, err
	}
	if err := s.disableIfFailing(ctx, e); err != nil {
		return Decision{}, err
	}
	if a.Outcome == OutcomeFailed {
		return Decision{Done: true}, nil
	}
	return Decision{RetryIn: wait}, nil
}

// send signs and posts m to e and fills a's outcome (succeeded or
// failed), status, latency, response excerpt and error.
func (s *Service) send(ctx context.Context, e Endpoint, m Message, a *Attempt) {
	a.Outcome = OutcomeFailed
	body, err := m.Body()
	if err != nil {
		a.Error = "encoding body: " + err.Error()
		return
	}
	sig, err := SignatureHeader(e.Secrets(a.At), m.ID, a.At, body)
	if err != nil {
		a.Error = "signing: " + err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "building request: " + err.Error()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tally-webhooks/1")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(a.At.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := s.cfg.Now()
	resp, err := s.cfg.Doer.Do(req)
	if err != nil {
		a.Latency = s.cfg.Now().Sub(start)
		a.LatencyMS = a.Latency.Milliseconds()
		a.Error = err.Error()
		return
	}
	excerpt, rerr := io.ReadAll(io.LimitReader(resp.Body, ResponseExcerpt))
	_ = resp.Body.Close()
	a.Latency = s.cfg.Now().Sub(start)
	a.LatencyMS = a.Latency.Milliseconds()
	a.HTTPStatus = resp.StatusCode
	a.Response = validUTF8(excerpt)
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		a.Error = "status " + strconv.Itoa(resp.StatusCode)
	case rerr != nil:
		// A 2xx whose body broke off still counts as received.
		a.Outcome = OutcomeSucceeded
	default:
		a.Outcome = OutcomeSucceeded
	}
}

func (s *Service) record(ctx context.Context, a Attempt) error {
	if err := s.cfg.Deliveries.RecordAttempt(ctx, a); err != nil {
		return fmt.Errorf("logging attempt %d of %s: %w", a.N, a.DeliveryID, err)
	}
	ev := s.log.Debug()
	if a.Outcome != OutcomeSucceeded {
		ev = s.log.Warn()
	}
	ev.Str("delivery", a.DeliveryID).Str("message", a.MessageID).Str("endpoint", a.EndpointID).Int("attempt", a.N).
		Str("outcome", a.Outcome).Int("status", a.HTTPStatus).Str("error", a.Error).Msg("webhook attempt")
	return nil
}

// disableIfFailing disables e when its attempts have failed, with no
// success in between, for DisableAfter.
func (s *Service) disableIfFailing(ctx context.Context, e Endpoint) error {
	since, err := s.cfg.Deliveries.FailingSince(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("reading whether %s is failing: %w", e.ID, err)
	}
	now := s.cfg.Now().UTC()
	if since.IsZero() || now.Sub(since) < DisableAfter {
		return nil
	}
	e.DisabledAt = now
	e.DisabledReason = "every attempt failed since " + since.Format(time.RFC3339)
	if err := s.saveVersion(ctx, e); err != nil {
		return err
	}
	s.log.Warn().Str("endpoint", e.ID).Time("failing_since", since).Msg("webhook endpoint disabled")
	return nil
}

// validUTF8 keeps an excerpt printable in JSON: invalid bytes replaced.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}
