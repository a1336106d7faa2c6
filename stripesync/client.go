package stripesync

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/customer"
	"github.com/stripe/stripe-go/v76/invoice"
	"github.com/stripe/stripe-go/v76/invoiceitem"
	"github.com/stripe/stripe-go/v76/transfer"
)

// Client pushes invoices and transfers to Stripe. It is safe for concurrent
// use.
type Client struct {
	cfg       Config
	log       zerolog.Logger
	customers customer.Client
	invoices  invoice.Client
	items     invoiceitem.Client
	transfers transfer.Client

	// sleep waits d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

// New validates cfg, applies its defaults and returns a Client built on
// stripe-go's backend with stripe-go's own network retries disabled (this
// package counts and spaces the attempts) and its logger silenced (it would
// log response bodies; this package logs through cfg.Logger instead).
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	hc := *cfg.HTTPClient // shallow copy: the caller's client is not modified
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = observingTransport{base: base}

	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(cfg.APIBase),
		HTTPClient:        &hc,
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry:   stripe.Bool(false),
	})

	return &Client{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("component", "stripesync").Logger(),
		customers: customer.Client{B: backend, Key: cfg.Key},
		invoices:  invoice.Client{B: backend, Key: cfg.Key},
		items:     invoiceitem.Client{B: backend, Key: cfg.Key},
		transfers: transfer.Client{B: backend, Key: cfg.Key},
		sleep:     sleepCtx,
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
