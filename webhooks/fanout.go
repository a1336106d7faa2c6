package webhooks

import (
	"context"
	"fmt"
)

// Emit hands facts to the queue, once per message id: the ids the
// message log holds already are skipped, the others are published
// (deduplicated by id in the queue as well) and then logged. A crash
// between the publish and the log publishes them again at the next
// emit of the same facts, under the same ids.
func (s *Service) Emit(ctx context.Context, ms []Message) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	known, err := s.cfg.Messages.KnownMessages(ctx, ids)
	if err != nil {
		return fmt.Errorf("reading known messages: %w", err)
	}
	var fresh []Message
	seen := map[string]bool{}
	for _, m := range ms {
		if !known[m.ID] && !seen[m.ID] {
			seen[m.ID] = true
			fresh = append(fresh, m)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := s.cfg.Queue.PublishMessages(ctx, fresh); err != nil {
		return fmt.Errorf("publishing %d webhook messages: %w", len(fresh), err)
	}
	if err := s.cfg.Messages.SaveMessages(ctx, fresh); err != nil {
		return fmt.Errorf("logging %d webhook messages: %w", len(fresh), err)
	}
	s.log.Debug().Int("messages", len(fresh)).Msg("webhook messages emitted")
	return nil
}

// FanOut makes a delivery of m for every endpoint that subscribes to it
// now, and enqueues them, deduplicated by delivery id: a fan-out done
// again (the queue offered m again after a crash) enqueues nothing new
// within the queue's duplicate window.
func (s *Service) FanOut(ctx context.Context, m Message) error {
	eps, err := s.cfg.Endpoints.Endpoints(ctx)
	if err != nil {
		return fmt.Errorf("reading endpoints: %w", err)
	}
	now := s.cfg.Now().UTC()
	var ts []Task
	for _, e := range eps {
		if e.matches(m) {
			ts = append(ts, Task{DeliveryID: DeliveryID(m.ID, e.ID), EndpointID: e.ID, Message: m, CreatedAt: now})
		}
	}
	if len(ts) == 0 {
		return nil
	}
	if err := s.cfg.Queue.EnqueueDeliveries(ctx, ts, func(t Task) string { return t.DeliveryID }); err != nil {
		return fmt.Errorf("enqueuing deliveries of %s: %w", m.ID, err)
	}
	return nil
}
