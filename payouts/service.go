package payouts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/aggregators/pricebook"
	"github.com/tally-billing/tally/internal/sendbatch"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
	"github.com/tally-billing/tally/stripesync"
)

// EventSource loads stored marketplace events.
type EventSource interface {
	MarketplaceEvents(ctx context.Context, end time.Time) ([]StoredEvent, error)
}

// StoredEvent is a stored event: its stream sequence and raw payload.
type StoredEvent struct {
	Seq     uint64
	Payload []byte
}

// Store keeps payouts, runs and the ledger.
type Store interface {
	Payouts(ctx context.Context, provider string) ([]Payout, error)
	// SavePayouts stores new payouts with their statements.
	SavePayouts(ctx context.Context, ps []Payout) error
	// UpdatePayoutStatuses records new statuses of stored payouts.
	UpdatePayoutStatuses(ctx context.Context, ps []Payout) error
	PayoutRun(ctx context.Context, asOf time.Time) (time.Time, error)
	RecordPayoutRun(ctx context.Context, asOf, at time.Time, n int) error
	LedgerEntries(ctx context.Context) ([]marketplace.Entry, error)
	AppendLedger(ctx context.Context, entries []marketplace.Entry) error
}

// TransferSender pushes a payout to Stripe Connect.
type TransferSender interface {
	PushTransfer(ctx context.Context, t stripesync.Transfer) (string, error)
}

// EventRejecter dead-letters stored events with a reason.
type EventRejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}

// Config wires a Service.
type Config struct {
	Book   *pricebook.Book
	Events EventSource
	Store  Store
	// Sender makes transfers; nil is a dry run (status not_sent).
	Sender TransferSender
	// Rejecter dead-letters refunds that can never apply (optional).
	Rejecter EventRejecter
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
		return nil, errors.New("payouts: price book, event source and store are required")
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

// derived is the ledger as of an instant, with what it was built from.
type derived struct {
	ledger *marketplace.Ledger
	seqOf  map[string]uint64 // event id → stream sequence
}

// derive builds the ledger from every marketplace event at or before end
// and every payout recorded.
func (s *Service) derive(ctx context.Context, end time.Time) (*derived, []Payout, error) {
	stored, err := s.cfg.Events.MarketplaceEvents(ctx, end)
	if err != nil {
		return nil, nil, err
	}
	var in marketplace.Input
	d := &derived{seqOf: make(map[string]uint64, len(stored))}
	for _, se := range stored {
		e, err := schemas.Decode(se.Payload)
		if err != nil {
			return nil, nil, fmt.Errorf("decoding stored event %d: %w", se.Seq, err)
		}
		if err := in.AddEvent(e); err != nil {
			return nil, nil, err
		}
		d.seqOf[e.Identity().MsgID()] = se.Seq
	}
	recorded, err := s.cfg.Store.Payouts(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	for _, p := range recorded {
		mp, err := toEngine(p)
		if err != nil {
			return nil, nil, err
		}
		in.Payouts = append(in.Payouts, mp)
	}
	if d.ledger, err = marketplace.Derive(s.cfg.Book.Marketplace, in); err != nil {
		return nil, nil, fmt.Errorf("deriving the ledger: %w", err)
	}
	return d, recorded, nil
}

// Balances returns a provider's balances as of asOf.
func (s *Service) Balances(ctx context.Context, provider string, asOf time.Time) (Balances, error) {
	d, _, err := s.derive(ctx, asOf)
	if err != nil {
		return Balances{}, err
	}
	out := Balances{Provider: provider, AsOf: asOf.UTC(), Balances: []Balance{}}
	for _, b := range d.ledger.Balances(asOf) {
		if b.Provider == provider {
			out.Balances = append(out.Balances, Balance{Currency: b.Currency.Code, Held: b.Held, Available: b.Available, Paid: b.Paid})
		}
	}
	return out, nil
}

// HasRun reports whether the payout run as of asOf was recorded.
func (s *Service) HasRun(ctx context.Context, asOf time.Time) (bool, error) {
	at, err := s.cfg.Store.PayoutRun(ctx, asOf.UTC())
	return !at.IsZero(), err
}

// Payouts lists payouts of provider (all when empty).
func (s *Service) Payouts(ctx context.Context, provider string) ([]Payout, error) {
	return s.cfg.Store.Payouts(ctx, provider)
}

// RunPayouts pays, as of asOf, every KYC-verified provider whose available
// balance reaches the minimum. In order: derive the ledger from the events
// and the payouts recorded; dead-letter refunds that can never apply;
// append new ledger entries; save the run's payouts as pending; record the
// run; send each pending payout. Re-running the same asOf pays nothing
// more: the run is recorded, and the engine counts the payouts already
// made; a payout left pending by a crash is sent by the next call.
func (s *Service) RunPayouts(ctx context.Context, asOf time.Time) (RunResult, error) {
	asOf = asOf.UTC()
	res := RunResult{AsOf: asOf}
	ranAt, err := s.cfg.Store.PayoutRun(ctx, asOf)
	if err != nil {
		return res, err
	}
	if ranAt.IsZero() {
		if err := s.decide(ctx, asOf); err != nil {
			return res, err
		}
	} else {
		res.AlreadyRun = true
	}
	all, err := s.cfg.Store.Payouts(ctx, "")
	if err != nil {
		return res, err
	}
	res.Payouts = []Payout{}
	var pending []*Payout
	for i := range all {
		if all[i].AsOf.Equal(asOf) {
			res.Payouts = append(res.Payouts, all[i])
		}
	}
	for i := range res.Payouts {
		if res.Payouts[i].Status == StatusPending {
			pending = append(pending, &res.Payouts[i])
		}
	}
	if err := s.sendAll(ctx, pending); err != nil {
		return res, fmt.Errorf("sending payouts (they stay pending and are sent by the next run call): %w", err)
	}
	return res, nil
}

// sendAll sends the pending payouts, several at a time, and records every
// outcome, also when some sends fail. A crash between a transfer and its
// record leaves the payout pending; the next run sends it again with the
// same idempotency key, which Stripe answers with the same transfer.
func (s *Service) sendAll(ctx context.Context, pending []*Payout) error {
	if s.cfg.Sender == nil {
		for _, p := range pending {
			p.Status = StatusNotSent
		}
		return s.recordStatuses(ctx, pending)
	}
	return sendbatch.Run(ctx, sendbatch.Config{}, pending, s.send, s.recordStatuses)
}

func (s *Service) recordStatuses(ctx context.Context, ps []*Payout) error {
	out := make([]Payout, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return s.cfg.Store.UpdatePayoutStatuses(ctx, out)
}

// decide derives, records and saves the payouts of a new run. It logs how
// long each stage took, since a run reads every marketplace event.
func (s *Service) decide(ctx context.Context, asOf time.Time) error {
	start := time.Now()
	d, _, err := s.derive(ctx, asOf)
	if err != nil {
		return err
	}
	derived := time.Now()
	if err := s.rejectRefunds(ctx, d, asOf); err != nil {
		return err
	}
	run, err := d.ledger.RunPayouts(asOf)
	if err != nil {
		return fmt.Errorf("running payouts: %w", err)
	}
	stored, err := s.cfg.Store.LedgerEntries(ctx)
	if err != nil {
		return err
	}
	// The derived ledger is not used after this: keep its entries up to
	// asOf in place rather than copy a million of them.
	upTo := slices.DeleteFunc(d.ledger.Entries, func(e marketplace.Entry) bool { return e.At.After(asOf) })
	d.ledger = nil
	appended := marketplace.Reconcile(stored, upTo)
	reconciled := time.Now()
	if err := s.cfg.Store.AppendLedger(ctx, appended); err != nil {
		return err
	}
	saved := make([]Payout, len(run.Payouts))
	for i, p := range run.Payouts {
		saved[i] = fromEngine(p)
	}
	if err := s.cfg.Store.SavePayouts(ctx, saved); err != nil {
		return err
	}
	if err := s.cfg.Store.RecordPayoutRun(ctx, asOf, s.cfg.Now(), len(run.Payouts)); err != nil {
		return err
	}
	s.cfg.Metrics.Runs.Inc()
	s.log.Info().Time("as_of", asOf).Int("payouts", len(run.Payouts)).Int("carried", len(run.Carried)).
		Int("ledger_entries", len(appended)).
		Dur("derive", derived.Sub(start)).Dur("reconcile", reconciled.Sub(derived)).Dur("store", time.Since(reconciled)).
		Msg("payout run")
	return nil
}

// rejectRefunds dead-letters the refunds the engine rejected. A refund for
// an order with no sale may be waiting for a sale still in flight: it is
// dead-lettered only once UnknownOrderGrace has passed since its time.
func (s *Service) rejectRefunds(ctx context.Context, d *derived, asOf time.Time) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	for _, r := range d.ledger.Rejected {
		if errors.Is(r.Err, marketplace.ErrUnknownOrder) && asOf.Sub(r.At) < s.cfg.UnknownOrderGrace {
			continue
		}
		seq, ok := d.seqOf[r.EventID]
		if !ok {
			continue
		}
		if err := s.cfg.Rejecter.RejectStored(ctx, []uint64{seq}, r.Error()); err != nil {
			return err
		}
	}
	return nil
}

// send makes the transfer of a pending payout and sets its outcome; sent
// says whether there is an outcome to record. A refusal (4xx) marks it
// failed, which gives the money back to the available balance; any other
// failure leaves it pending, with nothing to record.
func (s *Service) send(ctx context.Context, p *Payout) (sent bool, err error) {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		return false, err
	}
	id, err := s.cfg.Sender.PushTransfer(ctx, stripesync.Transfer{PayoutID: p.ID, Account: p.Account, Currency: cur,
		Amount: p.Amount, Description: fmt.Sprintf("Tally payout %s as of %s", p.ID, p.AsOf.Format(time.RFC3339))})
	switch {
	case errors.Is(err, stripesync.ErrRejected) || errors.Is(err, stripesync.ErrInvalid) || errors.Is(err, stripesync.ErrConflict):
		p.Status, p.StatusReason, p.FailedAt = StatusFailed, err.Error(), s.cfg.Now().UTC()
		s.cfg.Metrics.Failed.Inc()
		s.log.Error().Err(err).Str("payout", p.ID).Str("provider", p.Provider).Msg("stripe refused the transfer; money available again")
		return true, nil
	case err != nil:
		s.log.Warn().Err(err).Str("payout", p.ID).Msg("sending payout; it stays pending and is retried")
		return false, fmt.Errorf("sending %s: %w", p.ID, err)
	}
	p.Status, p.StatusReason, p.StripeTransferID = StatusPaid, "", id
	s.cfg.Metrics.Paid.Inc()
	return true, nil
}

func fromEngine(p marketplace.Payout) Payout {
	out := Payout{ID: p.ID, Provider: p.Provider, Currency: p.Currency.Code, Amount: p.Amount, AsOf: p.At.UTC(),
		Account: p.StripeAccount, Status: StatusPending}
	for _, l := range p.Lines {
		ref := l.OrderID
		switch {
		case l.RefundID != "":
			ref = l.RefundID
		case l.PayoutID != "":
			ref = l.PayoutID
		}
		out.Statement = append(out.Statement, StatementLine{Kind: string(l.Kind), Ref: ref, At: l.At.UTC(),
			Description: describe(l), Amount: l.Amount})
	}
	return out
}

func describe(l marketplace.StatementLine) string {
	switch l.Kind {
	case marketplace.LineSale:
		return fmt.Sprintf("share of order %s (course %s)", l.OrderID, l.CourseID)
	case marketplace.LineRefund:
		return fmt.Sprintf("refund %s of order %s", l.RefundID, l.OrderID)
	case marketplace.LineClawback:
		return fmt.Sprintf("clawback: refund %s of order %s after payout", l.RefundID, l.OrderID)
	case marketplace.LineReturnedPayout:
		return fmt.Sprintf("payout %s returned by Stripe", l.PayoutID)
	}
	return "balance carried over from the previous payout"
}

// toEngine turns a recorded payout into the engine's input. Pending,
// not-sent and paid payouts count as paid out; failed ones give the money
// back at their failure time.
func toEngine(p Payout) (marketplace.Payout, error) {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		return marketplace.Payout{}, err
	}
	out := marketplace.Payout{ID: p.ID, Provider: p.Provider, Currency: cur, At: p.AsOf, Amount: p.Amount.Round(cur.MinorUnits),
		StripeAccount: p.Account, Status: marketplace.PayoutPaid}
	switch p.Status {
	case StatusPending:
		out.Status = marketplace.PayoutPending
	case StatusFailed:
		out.Status, out.FailedAt, out.FailureReason = marketplace.PayoutFailed, p.FailedAt, p.StatusReason
	}
	return out, nil
}
