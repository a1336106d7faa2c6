package payouts

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/pricebook"
)

// Config wires a Service: the price book, then one port per step.
type Config struct {
	Book *pricebook.Book
	// Runs, Payouts, Store, Statuses and Ledger record the runs, read the
	// payouts, store what a run decides, record send outcomes and read
	// the stored ledger (all required).
	Runs     RunLog
	Payouts  PayoutReader
	Store    RunStore
	Statuses StatusRecorder
	Ledger   StoredLedger
	// Events reads the whole history: a run without snapshots, and a
	// balance without one (required).
	Events EventSource
	// Sender makes transfers; nil is a dry run (status not_sent).
	Sender TransferSender
	// Notifier hears of paid, failed and held payouts (optional: webhooks).
	Notifier Notifier
	// Rejecter dead-letters refunds that can never apply (optional).
	Rejecter EventRejecter
	// Sellers, when set, leaves out the sales not entitled (SPEC §6) and
	// dead-letters them through Rejecter (optional; sellers.go).
	Sellers SaleJudge
	// Snapshots, when set, makes each run start from the state the last
	// run stored plus the events stored after it (optional); Later,
	// Checks and Position are then required.
	Snapshots SnapshotStore
	Later     LaterEvents
	Checks    PayoutChecks
	Position  StoredPosition
	// Providers, when set with Snapshots, makes a balance read the
	// provider's part of the latest snapshot and what came after it,
	// instead of its whole history (optional).
	Providers ProviderReads
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
	if cfg.Book == nil || cfg.Events == nil || cfg.Runs == nil || cfg.Payouts == nil || cfg.Store == nil || cfg.Statuses == nil || cfg.Ledger == nil {
		return nil, fmt.Errorf("payouts: price book, event source, run log, payouts, run store, status recorder and stored ledger are required: %w", ErrMissingDependency)
	}
	if cfg.Snapshots != nil && (cfg.Later == nil || cfg.Checks == nil || cfg.Position == nil) {
		return nil, fmt.Errorf("payouts: ledger snapshots need the later events, the payout checks and the stored position: %w", ErrMissingDependency)
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
	cfg = withSellers(cfg)
	return &Service{cfg: cfg, log: cfg.Logger.With().Str("component", "payouts").Logger()}, nil
}
