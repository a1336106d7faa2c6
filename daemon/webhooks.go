package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/tally-billing/tally/entitlements"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/webhooks"
	"github.com/tally-billing/tally/webhooks/jsqueue"
	"github.com/tally-billing/tally/webhooks/webhttp"
)

// buildWebhooks applies the webhooks' stream and consumers and returns
// the service (endpoints, facts, fan-out, delivery) and its queue, which
// the caller runs.
func (d *Daemon) buildWebhooks(ctx context.Context, ents *entitlements.State) (*webhooks.Service, *jsqueue.Queue, error) {
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	queue, err := jsqueue.New(tctx, d.js, jsqueue.Config{DedupWindow: d.cfg.Topology.DedupWindow, Replicas: d.cfg.Topology.Replicas,
		Logger: d.log.With().Str("component", "webhooks").Logger()})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the webhooks queue: %w", err)
	}
	policy := webhooks.TargetPolicy{AllowLocal: d.cfg.WebhooksAllowLocal}
	if policy.AllowLocal {
		d.log.Warn().Msg("webhooks may target http, loopback and private addresses (--webhooks-allow-local: tests and development only)")
	}
	store := d.store.Webhooks()
	svc, err := webhooks.New(webhooks.Config{
		Endpoints: store, Messages: store, Deliveries: store, Queue: queue,
		Doer: webhttp.New(policy), Policy: policy, Now: d.cfg.Now, Backoff: d.cfg.WebhooksBackoff, Logger: d.log,
		Entitled: webhooksEntitled(ents),
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, queue, nil
}

// webhooksEntitled asks the live tenant state whether a tenant's plan
// has api_keys_webhooks (other than not_available), as folded now: a
// registration does not wait for events still in flight.
func webhooksEntitled(ents *entitlements.State) func(ctx context.Context, tenant string) (bool, string, error) {
	return func(ctx context.Context, tenant string) (bool, string, error) {
		c, err := ents.Check(ctx, tenant, string(pricebook.CapAPIKeysWebhooks), 0)
		if err != nil {
			return false, "", err
		}
		return c.Allowed, "api_keys_webhooks " + c.Value + ": " + c.Reason, nil
	}
}

// runWebhooks runs the webhooks' consumers until ctx ends.
func runWebhooks(ctx context.Context, q *jsqueue.Queue, svc *webhooks.Service) error {
	return q.Run(ctx, jsqueue.Handlers{FanOut: svc.FanOut, Deliver: svc.Deliver})
}
