package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
)

// Config wires a Service.
type Config struct {
	Endpoints  EndpointStore
	Messages   MessageLog
	Deliveries DeliveryLog
	Queue      MessageQueue
	// Doer sends the deliveries (webhttp.Client); required to deliver.
	Doer Doer
	// Policy refuses internal targets at registration; the Doer applies
	// it again at each connection.
	Policy TargetPolicy
	// Resolver resolves URLs' hosts at registration; net.DefaultResolver
	// when nil.
	Resolver Resolver
	// Entitled reports whether a tenant's plan lets its tenant key manage
	// webhooks (api_keys_webhooks other than not_available), with the
	// reason when not. Nil: no check (the live tenant state it needs is
	// not built yet, see docs/webhooks.md).
	Entitled func(ctx context.Context, tenant string) (bool, string, error)
	// Now is the clock; time.Now when nil.
	Now Clock
	// Jitter spreads retry delays; DefaultJitter when nil.
	Jitter Jitter
	// Backoff is the retry schedule; the package's Backoff when empty
	// (tests shorten it: `tally run --webhooks-backoff`).
	Backoff []time.Duration
	Logger  zerolog.Logger
}

// Validate reports a missing dependency.
func (c Config) Validate() error {
	if c.Endpoints == nil || c.Messages == nil || c.Deliveries == nil || c.Queue == nil || c.Doer == nil {
		return errors.New("webhooks: endpoints, messages, deliveries, queue and doer are required")
	}
	return nil
}

// Service registers endpoints, generates messages, fans them out to the
// endpoints that subscribe and delivers them.
type Service struct {
	cfg Config
	log zerolog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = DefaultJitter
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = Backoff
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return &Service{cfg: cfg, log: cfg.Logger.With().Str("component", "webhooks").Logger()}, nil
}

// entitled checks, for a tenant scope, that the tenant's plan has
// webhooks; a finance scope always may.
func (s *Service) entitled(ctx context.Context, sc Scope) error {
	if sc.Tenant == "" || s.cfg.Entitled == nil {
		return nil
	}
	ok, reason, err := s.cfg.Entitled(ctx, sc.Tenant)
	if err != nil {
		return fmt.Errorf("reading whether %s has webhooks: %w", sc.Tenant, err)
	}
	if !ok {
		return fmt.Errorf("tenant %s: %s: %w", sc.Tenant, reason, ErrNotEntitled)
	}
	return nil
}
