package webhooks

import (
	"errors"
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
