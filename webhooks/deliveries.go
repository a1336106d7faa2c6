package webhooks

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Delivery statuses (a delivery's last attempt): succeeded, pending (a
// retry is scheduled) or failed (given up).
const (
	StatusSucceeded = "succeeded"
	StatusPending   = "pending"
	StatusFailed    = "failed"
)

// AttemptFilter selects attempts; empty fields match all.
type AttemptFilter struct {
	EndpointID string
	DeliveryID string
	// EndpointIDs, when not nil, keeps only these endpoints' attempts.
	EndpointIDs []string
	// Limit bounds the attempts read (newest first); 0 is the store's
	// default.
	Limit int
}

// Delivery is a message's delivery to an endpoint, with its attempts,
// newest first.
type Delivery struct {
	ID         string    `json:"id"`
	MessageID  string    `json:"message_id"`
	EndpointID string    `json:"endpoint_id"`
	Type       string    `json:"type"`
	Tenant     string    `json:"tenant,omitempty"`
	Status     string    `json:"status"`
	LastAt     time.Time `json:"last_attempt_at"`
	NextAt     time.Time `json:"next_attempt_at,omitzero"`
	Attempts   []Attempt `json:"attempts"`
}

// DeliveryFilter selects deliveries; empty fields match all.
type DeliveryFilter struct {
	EndpointID string
	Status     string
}

// Deliveries lists the deliveries the scope sees, the latest first.
func (s *Service) Deliveries(ctx context.Context, sc Scope, f DeliveryFilter) ([]Delivery, error) {
	switch f.Status {
	case "", StatusSucceeded, StatusPending, StatusFailed:
	default:
		return nil, fmt.Errorf("status %q: want succeeded, pending or failed: %w", f.Status, ErrInvalid)
	}
	af := AttemptFilter{EndpointID: f.EndpointID}
	if sc.Tenant != "" {
		eps, err := s.Endpoints(ctx, sc)
		if err != nil {
			return nil, err
		}
		af.EndpointIDs = []string{}
		for _, e := range eps {
			af.EndpointIDs = append(af.EndpointIDs, e.ID)
		}
	}
	as, err := s.cfg.Deliveries.Attempts(ctx, af)
	if err != nil {
		return nil, fmt.Errorf("reading the delivery log: %w", err)
	}
	out := groupAttempts(as)
	if f.Status != "" {
		kept := out[:0]
		for _, d := range out {
			if d.Status == f.Status {
				kept = append(kept, d)
			}
		}
		out = kept
	}
	return out, nil
}

// groupAttempts folds attempts into deliveries, each with its status.
func groupAttempts(as []Attempt) []Delivery {
	index := map[string]int{}
	var out []Delivery
	for _, a := range as {
		i, ok := index[a.DeliveryID]
		if !ok {
			i = len(out)
			index[a.DeliveryID] = i
			out = append(out, Delivery{ID: a.DeliveryID, MessageID: a.MessageID, EndpointID: a.EndpointID, Type: a.Type, Tenant: a.Tenant})
		}
		out[i].Attempts = append(out[i].Attempts, a)
	}
	for i := range out {
		d := &out[i]
		sort.SliceStable(d.Attempts, func(x, y int) bool { return d.Attempts[x].At.After(d.Attempts[y].At) })
		last := d.Attempts[0]
		d.LastAt, d.NextAt = last.At, last.NextAt
		switch last.Outcome {
		case OutcomeSucceeded:
			d.Status = StatusSucceeded
		case OutcomeRetrying:
			d.Status = StatusPending
		default:
			d.Status = StatusFailed
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastAt.After(out[j].LastAt) })
	return out
}

// Retry delivers a logged delivery again now, with a fresh retry
// schedule, under the same message id and delivery id.
func (s *Service) Retry(ctx context.Context, sc Scope, deliveryID string) (Task, error) {
	as, err := s.cfg.Deliveries.Attempts(ctx, AttemptFilter{DeliveryID: deliveryID, Limit: 1})
	if err != nil {
		return Task{}, fmt.Errorf("reading the delivery log: %w", err)
	}
	if len(as) == 0 {
		return Task{}, fmt.Errorf("delivery %q: %w", deliveryID, ErrNotFound)
	}
	if _, err := s.Endpoint(ctx, sc, as[0].EndpointID); err != nil {
		return Task{}, fmt.Errorf("delivery %q: %w", deliveryID, ErrNotFound)
	}
	m, ok, err := s.cfg.Messages.Message(ctx, as[0].MessageID)
	if err != nil {
		return Task{}, fmt.Errorf("reading message %s: %w", as[0].MessageID, err)
	}
	if !ok {
		return Task{}, fmt.Errorf("message %s of delivery %q is not logged: %w", as[0].MessageID, deliveryID, ErrNotFound)
	}
	now := s.cfg.Now().UTC()
	t := Task{DeliveryID: deliveryID, EndpointID: as[0].EndpointID, Message: m, CreatedAt: now, Manual: true}
	dedup := func(t Task) string { return t.DeliveryID + ":retry:" + strconv.FormatInt(now.UnixNano(), 10) }
	if err := s.cfg.Queue.EnqueueDeliveries(ctx, []Task{t}, dedup); err != nil {
		return Task{}, fmt.Errorf("enqueuing the retry of %s: %w", deliveryID, err)
	}
	s.log.Info().Str("delivery", deliveryID).Msg("webhook delivery retried by hand")
	return t, nil
}
