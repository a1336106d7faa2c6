package payouts

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/pricebook"
)

// Config wires a Service.
type Config struct {
	Book   *pricebook.Book
	Events EventSource
	Store  Store
	// Sender makes transfers; nil is a dry run (status not_sent).
	Sender TransferSender
	// Rejecter dead-letters refunds that can never apply (optional).
	Rejecter EventRejecter
	// Snapshots, when set, makes each run start from the state the last
	// run stored plus the events stored after it (optional); Position is
	// then required.
	Snapshots LedgerSnapshots
	Position  StoredPosition
	// UnknownOrderGrace is how long after its time a refund for an order
	// with no sale is waited for (the sale may be in flight) before it is
	// dead-lettered (default 1h).
	UnknownOrderGrace time.Duration
	Now               func() time.Time
	Logger            zerolog.Logger
	Metrics           *Metrics
}

// Metrics count payouts.
type Metrics struct {
	Paid   prometheus.Counter
	Failed prometheus.Counter
	Runs   prometheus.Counter
}

// NewMetrics registers payout metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Paid:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_payouts_paid_total", Help: "Payouts Stripe accepted."}),
		Failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_payouts_failed_total", Help: "Payouts Stripe refused (4xx); the money is available again."}),
		Runs:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_payout_runs_total", Help: "Payout runs recorded."}),
	}
	reg.MustRegister(m.Paid, m.Failed, m.Runs)
	return m
}

// Service runs payouts and answers balances.
type Service struct {
	cfg Config
	log zerolog.Logger
}

// New returns a Service or an error for a missing dependency.
func New(cfg Config) (*Service, error) {
	if cfg.Book == nil || cfg.Events == nil || cfg.Store == nil {
		return nil, fmt.Errorf("payouts: price book, event source and store are required: %w", ErrMissingDependency)
	}
	if cfg.Snapshots != nil && cfg.Position == nil {
		return nil, fmt.Errorf("payouts: ledger snapshots need the stored position: %w", ErrMissingDependency)
	}
	if cfg.UnknownOrderGrace <= 0 {
		cfg.UnknownOrderGrace = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	return &Service{cfg: cfg, log: cfg.Logger.With().Str("component", "payouts").Logger()}, nil
}
