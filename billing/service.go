package billing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/pricebook"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/internal/sendbatch"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
	"github.com/tally-billing/tally/stripesync"
)

// ActivitySource loads what rating needs from the event store.
type ActivitySource interface {
	// Activity returns every tenant's subscription, seat and pack events
	// and monthly credit sums before end.
	Activity(ctx context.Context, end time.Time) (map[string]*TenantActivity, error)
	// CreditRows sums each tenant's credits between consecutive cuts.
	CreditRows(ctx context.Context, end time.Time, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error)
}

// InvoiceStore keeps invoices and closed periods.
type InvoiceStore interface {
	Invoices(ctx context.Context, f InvoiceFilter) ([]Invoice, error)
	// SaveInvoices stores new invoices with their lines.
	SaveInvoices(ctx context.Context, invs []Invoice) error
	// UpdateInvoiceStatuses records new statuses of stored invoices.
	UpdateInvoiceStatuses(ctx context.Context, invs []Invoice) error
	ClosedPeriod(ctx context.Context, period string) (time.Time, error)
	ClosedPeriods(ctx context.Context) ([]string, error)
	RecordClosedPeriod(ctx context.Context, period string, at time.Time, invoices int) error
	StripeCustomer(ctx context.Context, tenant string) (string, error)
	SaveStripeCustomer(ctx context.Context, tenant, customerID string, at time.Time) error
}

// InvoiceSender pushes a finalized invoice to Stripe.
type InvoiceSender interface {
	PushInvoice(ctx context.Context, inv stripesync.Invoice) (stripesync.InvoiceResult, error)
}

// EventRejecter records stored events that billing cannot apply (a seat
// released that was not held) in the dead-letter store, with the reason.
type EventRejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}

// Config wires a Service.
type Config struct {
	// Book is the current price book: it rates open periods.
	Book *pricebook.Book
	// Books gives every earlier price book version: a closed month is
	// re-rated for adjustments with the version it was billed under
	// (pricebook.Catalog). Optional: without it a month billed under
	// another version than Book fails its tenant (ErrUnknownPriceBook).
	Books    PriceBooks
	Activity ActivitySource
	Store    InvoiceStore
	// Sender pushes invoices to Stripe; nil is a dry run: invoices are
	// finalized and marked not_sent.
	Sender InvoiceSender
	// Rejecter dead-letters seat releases without an assignment (optional).
	Rejecter EventRejecter
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  zerolog.Logger
	Metrics *Metrics
}

// Metrics count what billing did.
type Metrics struct {
	Finalized  prometheus.Counter
	Sent       prometheus.Counter
	SendFailed prometheus.Counter
	// TenantFailures counts tenants a close could not rate.
	TenantFailures prometheus.Counter
	Closes         *prometheus.CounterVec
}

// NewMetrics registers the billing metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Finalized:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_invoices_finalized_total", Help: "Invoices finalized."}),
		Sent:       prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_invoices_sent_total", Help: "Invoices finalized in Stripe."}),
		SendFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_invoices_send_failed_total", Help: "Invoices Stripe refused (4xx)."}),
		TenantFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_close_tenant_failures_total", Help: "Tenants a period close could not rate (each close, re-closes included, counts its own).",
		}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_period_closes_total", Help: "Period closes by outcome (closed, already_closed, failed).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.Finalized, m.Sent, m.SendFailed, m.TenantFailures, m.Closes)
	return m
}

// Service closes periods, sends invoices and answers the billing reads.
type Service struct {
	cfg Config
	log zerolog.Logger
}

// New returns a Service or an error for a missing dependency.
func New(cfg Config) (*Service, error) {
	if cfg.Book == nil || cfg.Activity == nil || cfg.Store == nil {
		return nil, errors.New("billing: price book, activity source and invoice store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	return &Service{cfg: cfg, log: cfg.Logger.With().Str("component", "billing").Logger()}, nil
}

// IsClosed reports whether p has been closed.
func (s *Service) IsClosed(ctx context.Context, p Period) (bool, error) {
	at, err := s.cfg.Store.ClosedPeriod(ctx, p.String())
	return !at.IsZero(), err
}

// Close is ClosePeriod (for the scheduler).
func (s *Service) Close(ctx context.Context, p Period) (CloseResult, error) {
	return s.ClosePeriod(ctx, p)
}

// ClosePeriod rates and finalizes every tenant's invoices of period p,
// stores them, records the period as closed and sends the invoices. The
// order makes every step safe to repeat: invoice ids are derived from
// (tenant, period, kind), an invoice already stored is never rated again,
// and invoices still waiting to be sent are sent by the next call. A
// tenant that cannot be rated never blocks the others: the period is
// closed without it and the failure is in the result (see failures.go).
// A closed period answers with its invoices, rates again only to report
// the tenants that still fail, and stores nothing new.
func (s *Service) ClosePeriod(ctx context.Context, p Period) (CloseResult, error) {
	now := s.cfg.Now()
	if now.Before(p.End()) {
		return CloseResult{}, fmt.Errorf("closing %s before %s: %w", p, p.End().Format(time.RFC3339), ErrPeriodOpen)
	}
	res := CloseResult{Period: p.String(), Failures: []TenantFailure{}}
	closedAt, err := s.cfg.Store.ClosedPeriod(ctx, p.String())
	if err != nil {
		return res, err
	}
	res.AlreadyClosed = !closedAt.IsZero()
	failures, err := s.rateAndStore(ctx, p, !res.AlreadyClosed)
	if err != nil {
		s.cfg.Metrics.Closes.WithLabelValues("failed").Inc()
		return res, err
	}
	res.Failures = append(res.Failures, failures...)
	s.reportFailures(p, failures)
	invs, err := s.cfg.Store.Invoices(ctx, InvoiceFilter{Period: p.String()})
	if err != nil {
		return res, err
	}
	if !res.AlreadyClosed {
		if err := s.cfg.Store.RecordClosedPeriod(ctx, p.String(), now, len(invs)); err != nil {
			return res, err
		}
		s.cfg.Metrics.Closes.WithLabelValues("closed").Inc()
		s.log.Info().Str("period", p.String()).Int("invoices", len(invs)).Int("failed_tenants", len(failures)).Msg("period closed")
	} else {
		s.cfg.Metrics.Closes.WithLabelValues("already_closed").Inc()
	}
	res.Invoices = invs
	if err := s.sendAll(ctx, invs); err != nil {
		return res, fmt.Errorf("sending invoices of %s (they stay finalized and are sent by the next close): %w", p, err)
	}
	return res, nil
}

// sendAll sends the finalized invoices among invs and records each
// outcome. One tenant's invoices go one after the other (the first may
// create the tenant's Stripe customer); tenants go several at a time.
func (s *Service) sendAll(ctx context.Context, invs []Invoice) error {
	if s.cfg.Sender == nil { // a dry run: nothing leaves, one status write
		var changed []Invoice
		for i := range invs {
			if invs[i].Status == StatusFinalized {
				invs[i].Status = StatusNotSent
				changed = append(changed, invs[i])
			}
		}
		return s.cfg.Store.UpdateInvoiceStatuses(ctx, changed)
	}
	var groups [][]*Invoice
	index := map[string]int{}
	for i := range invs {
		if invs[i].Status != StatusFinalized {
			continue
		}
		g, ok := index[invs[i].Tenant]
		if !ok {
			g = len(groups)
			index[invs[i].Tenant] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], &invs[i])
	}
	send := func(ctx context.Context, group []*Invoice) (bool, error) {
		var errs []error
		for _, inv := range group {
			if err := s.send(ctx, inv); err != nil {
				errs = append(errs, err)
			}
		}
		return true, errors.Join(errs...)
	}
	record := func(ctx context.Context, groups [][]*Invoice) error {
		var changed []Invoice
		for _, group := range groups {
			for _, inv := range group {
				if inv.Status != StatusFinalized {
					changed = append(changed, *inv)
				}
			}
		}
		return s.cfg.Store.UpdateInvoiceStatuses(ctx, changed)
	}
	return sendbatch.Run(ctx, sendbatch.Config{}, groups, send, record)
}

// rateAndStore rates every tenant and, when store is set, stores the
// invoices not stored yet. It returns the tenants that could not be
// rated, with the reason.
func (s *Service) rateAndStore(ctx context.Context, p Period, store bool) ([]TenantFailure, error) {
	rated, failures, err := s.rateAll(ctx, p)
	if err != nil || !store {
		return failures, err
	}
	existing, err := s.cfg.Store.Invoices(ctx, InvoiceFilter{Period: p.String()})
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, inv := range existing {
		have[inv.ID] = true
	}
	var fresh []Invoice
	for _, inv := range rated {
		if !have[inv.ID] {
			fresh = append(fresh, inv)
		}
	}
	if err := s.cfg.Store.SaveInvoices(ctx, fresh); err != nil {
		return nil, err
	}
	s.cfg.Metrics.Finalized.Add(float64(len(fresh)))
	return failures, nil
}

// tenantInput is one tenant's rating input, with data up to some end.
type tenantInput struct {
	changes []rating.SubscriptionChange
	usage   rating.Usage
}

// inputs is every tenant's rating input for a period.
type inputs struct {
	tenants  []string // sorted; those that failed are left out
	acts     map[string]*TenantActivity
	byTenant map[string]*tenantInput
	failures []TenantFailure
	refused  []refusedChange // subscription changes left out of rating
}

// loadInputs loads every tenant's rating input with data before p's end.
func (s *Service) loadInputs(ctx context.Context, p Period) (*inputs, error) {
	acts, err := s.cfg.Activity.Activity(ctx, p.End())
	if err != nil {
		return nil, err
	}
	in := &inputs{acts: acts, byTenant: map[string]*tenantInput{}}
	cuts := map[string][]time.Time{}
	all := make([]string, 0, len(acts))
	for t := range acts {
		all = append(all, t)
	}
	sort.Strings(all)
	for _, t := range all {
		a := acts[t]
		changes, refused := admitChanges(s.cfg.Book, t, a.Subscriptions)
		in.refused = append(in.refused, refused...)
		ti := &tenantInput{changes: changes}
		ti.usage.Seats = a.Seats
		packs, err := packPurchases(a.Packs)
		if err == nil {
			ti.usage.Packs = packs
			cuts[t], err = tenantCuts(s.cfg.Book, ti.changes, a, p)
		}
		if err != nil {
			in.failures = append(in.failures, TenantFailure{Tenant: t, Reason: err.Error()})
			continue
		}
		in.tenants = append(in.tenants, t)
		in.byTenant[t] = ti
	}
	rows, err := s.cfg.Activity.CreditRows(ctx, p.End(), cuts)
	if err != nil {
		return nil, err
	}
	for t, ti := range in.byTenant {
		ti.usage.Credits = rows[t]
	}
	return in, nil
}

// rateAll rates the invoices of every tenant for period p: the monthly
// invoice with adjustments for closed periods that late events changed,
// and the upfront and upgrade invoices of prepaid terms issued in p
// (prepaid.go: those of p and those of closed months not issued yet).
func (s *Service) rateAll(ctx context.Context, p Period) ([]Invoice, []TenantFailure, error) {
	in, err := s.loadInputs(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	prior, err := s.cfg.Store.Invoices(ctx, InvoiceFilter{})
	if err != nil {
		return nil, nil, err
	}
	priorByTenant := map[string][]Invoice{}
	issued := map[string]bool{}
	for _, inv := range prior {
		issued[inv.ID] = true
		if inv.Period < p.String() {
			priorByTenant[inv.Tenant] = append(priorByTenant[inv.Tenant], inv)
		}
	}
	closed, err := s.cfg.Store.ClosedPeriods(ctx)
	if err != nil {
		return nil, nil, err
	}
	closedSet := map[string]bool{}
	for _, c := range closed {
		closedSet[c] = true
	}
	if err := s.rejectUnmatchedReleases(ctx, in, p); err != nil {
		return nil, nil, err
	}
	if err := s.rejectRefusedChanges(ctx, in); err != nil {
		return nil, nil, err
	}
	failures := in.failures
	var out []Invoice
	for _, t := range in.tenants {
		invs, err := s.rateTenant(t, in.byTenant[t], p, priorByTenant[t], closed, issued, closedSet)
		if err != nil {
			failures = append(failures, TenantFailure{Tenant: t, Reason: err.Error()})
			continue
		}
		out = append(out, invs...)
	}
	return out, failures, nil
}

// rejectUnmatchedReleases dead-letters the releases in p of seats that
// were not held: they change no seat count (a seat never goes negative).
func (s *Service) rejectUnmatchedReleases(ctx context.Context, in *inputs, p Period) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	var seqs []uint64
	for _, t := range in.tenants {
		for _, e := range aggregators.UnmatchedReleases(in.byTenant[t].usage.Seats, p.Start(), p.End()) {
			if e.Seq != 0 {
				seqs = append(seqs, e.Seq)
			}
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	s.log.Warn().Int("events", len(seqs)).Str("period", p.String()).Msg("dead-lettering seat releases without an assignment")
	return s.cfg.Rejecter.RejectStored(ctx, seqs,
		"seat released without an assignment: the seat was not held at that time, so no seat is released")
}

// rateTenant rates one tenant's invoices issued in p. issued holds the ids
// of every stored invoice, closedSet the closed periods.
func (s *Service) rateTenant(tenant string, in *tenantInput, p Period, prior []Invoice, closed []string,
	issued, closedSet map[string]bool) ([]Invoice, error) {
	book := s.cfg.Book
	var out []Invoice
	monthly, err := rating.RateMonth(book, tenant, in.changes, in.usage, p)
	subscribed := err == nil
	if err != nil && !errors.Is(err, rating.ErrNotSubscribed) {
		return nil, err
	}
	adj, cur, err := s.adjustments(tenant, in, p, prior, closed)
	if err != nil {
		return nil, err
	}
	switch {
	case subscribed:
		monthly.Invoice.Append(adj...)
		if len(monthly.Invoice.Lines) > 0 {
			out = append(out, fromRating(monthly.Invoice, "", p))
		}
	case len(adj) > 0:
		inv := rating.Invoice{Tenant: tenant, Kind: rating.KindMonthly, Period: p.String(), IssuedAt: p.End(),
			Currency: cur, PriceBookVersion: book.Version}
		inv.Append(adj...)
		out = append(out, fromRating(inv, "", p))
	}
	prepaid, err := prepaidInvoices(book, tenant, in.changes, p, issued, closedSet)
	if err != nil {
		return nil, err
	}
	return append(out, prepaid...), nil
}

// adjustments re-rates every closed month before p with everything known
// now, and returns the differences from what was billed for it (SPEC §3
// item 6). A closed month with no invoice counts as billed nothing, so
// usage that arrived after its month was closed is billed too, at the
// current book's prices. A billed month is re-rated with the price book
// version its monthly invoice names (SPEC §5): a price change never
// alters a closed month, a late event in it is billed at its prices, and
// a version no book is known for fails the tenant with the reason.
func (s *Service) adjustments(tenant string, in *tenantInput, p Period, prior []Invoice, closed []string) ([]rating.Line, money.Currency, error) {
	var out []rating.Line
	var cur money.Currency
	var earlier []rating.Line
	billed := map[string]Invoice{}
	adjusted := adjustedMonths(prior)
	for _, inv := range prior {
		for _, l := range inv.Lines {
			if l.Kind == string(rating.LineAdjustment) {
				earlier = append(earlier, toRatingLine(l))
			}
		}
		if inv.Kind == KindMonthly {
			billed[inv.Period] = inv
		}
	}
	for _, period := range closed {
		q, err := ParsePeriod(period)
		if err != nil {
			return nil, cur, err
		}
		if !q.Before(p) {
			continue
		}
		inv, wasBilled := billed[period]
		book := s.cfg.Book
		if wasBilled {
			if book, err = s.bookOf(inv); err != nil {
				return nil, cur, fmt.Errorf("re-rating %s: %w", q, err)
			}
		}
		rerated, err := rating.RateMonth(book, tenant, changesBefore(in.changes, q.End()), usageBefore(in.usage, q.End()), q)
		switch {
		case errors.Is(err, rating.ErrNotSubscribed) && !wasBilled && adjusted[period].Code == "":
			continue
		case errors.Is(err, rating.ErrNotSubscribed):
			rerated.Invoice = rating.Invoice{Tenant: tenant, Kind: rating.KindMonthly, Period: q.String()}
		case err != nil:
			return nil, cur, fmt.Errorf("re-rating %s: %w", q, err)
		}
		var finalized rating.Invoice
		if wasBilled {
			if finalized, err = toRating(inv); err != nil {
				return nil, cur, err
			}
		} else {
			finalized = rating.Invoice{Tenant: tenant, Kind: rating.KindMonthly, Period: q.String(),
				Currency: rerated.Invoice.Currency, PriceBookVersion: book.Version}
			if finalized.Currency.Code == "" {
				finalized.Currency = adjusted[period]
			}
		}
		if rerated.Invoice.Currency.Code == "" {
			rerated.Invoice.Currency, rerated.Invoice.PriceBookVersion = finalized.Currency, finalized.PriceBookVersion
		}
		// A monthly invoice carries the month's own lines and adjustments
		// of earlier months; only its own lines are compared.
		own := finalized
		own.Lines = nil
		for _, l := range finalized.Lines {
			if l.Kind != rating.LineAdjustment {
				own.Lines = append(own.Lines, l)
			}
		}
		lines, err := rating.Adjustments(own, earlier, rerated.Invoice)
		if err != nil {
			return nil, cur, err
		}
		if len(lines) > 0 {
			out = append(out, lines...)
			cur = finalized.Currency
		}
	}
	return out, cur, nil
}

func changesBefore(changes []rating.SubscriptionChange, end time.Time) []rating.SubscriptionChange {
	var out []rating.SubscriptionChange
	for _, c := range changes {
		if c.At.Before(end) {
			out = append(out, c)
		}
	}
	return out
}

func usageBefore(u rating.Usage, end time.Time) rating.Usage {
	var out rating.Usage
	for _, e := range u.Seats {
		if e.Time.Before(end) {
			out.Seats = append(out.Seats, e)
		}
	}
	for _, c := range u.Credits {
		if c.At.Before(end) {
			out.Credits = append(out.Credits, c)
		}
	}
	for _, pk := range u.Packs {
		if pk.At.Before(end) {
			out.Packs = append(out.Packs, pk)
		}
	}
	return out
}

// tenantCuts are the instants credit rows are summed between: a cut far in
// the past, then for every month from the tenant's first activity to p its
// start and subscription changes (rating.Cuts).
func tenantCuts(book *pricebook.Book, changes []rating.SubscriptionChange, a *TenantActivity, p Period) ([]time.Time, error) {
	first := p
	for month := range a.CreditsByMonth {
		if q, err := ParsePeriod(month); err == nil && q.Before(first) {
			first = q
		}
	}
	for _, c := range changes {
		if q := PeriodOf(c.At); q.Before(first) {
			first = q
		}
	}
	for _, pk := range a.Packs {
		if q := PeriodOf(pk.Time); q.Before(first) {
			first = q
		}
	}
	out := []time.Time{schemas.MinTime()}
	for q := first; !p.Before(q); q = q.Next() {
		cs, err := rating.Cuts(book, changesBefore(changes, q.End()), q.Start(), q.End())
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func subscriptionChanges(events []StoredEvent) []rating.SubscriptionChange {
	out := make([]rating.SubscriptionChange, 0, len(events))
	for _, se := range events {
		e := se.Event
		c := rating.SubscriptionChange{At: e.Time}
		switch e.Type {
		case schemas.TypeSubscriptionStarted:
			c.Kind = rating.Started
		case schemas.TypeSubscriptionChanged:
			c.Kind = rating.Changed
		default:
			c.Kind = rating.Canceled
		}
		if sub, ok := e.Data.(*schemas.Subscription); ok {
			c.Subscription = *sub
		}
		out = append(out, c)
	}
	return out
}

func packPurchases(events []*schemas.Event) ([]rating.PackPurchase, error) {
	out := make([]rating.PackPurchase, 0, len(events))
	for _, e := range events {
		d, ok := e.Data.(*schemas.AIPackPurchased)
		if !ok {
			return nil, fmt.Errorf("event %s is not a pack purchase", e.ID)
		}
		out = append(out, rating.PackPurchase{At: e.Time, PackID: d.PackID, Credits: d.Credits, Price: d.Price, Currency: d.Currency})
	}
	return out, nil
}

// fromRating turns a rated invoice into a stored one, status finalized.
func fromRating(inv rating.Invoice, discriminator string, p Period) Invoice {
	out := Invoice{
		ID:     InvoiceID(inv.Tenant, p.String(), string(inv.Kind), discriminator),
		Tenant: inv.Tenant, Period: inv.Period, Kind: string(inv.Kind), Currency: inv.Currency.Code,
		PriceBookVersion: inv.PriceBookVersion, Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total,
		Status: StatusFinalized, IssuedAt: inv.IssuedAt.UTC(),
	}
	for _, l := range inv.Lines {
		out.Lines = append(out.Lines, Line{Kind: string(l.Kind), Item: l.Item, Description: l.Description,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags,
			Adjusts: string(l.Adjusts)})
	}
	return out
}

func toRating(inv Invoice) (rating.Invoice, error) {
	cur, err := money.LookupCurrency(inv.Currency)
	if err != nil {
		return rating.Invoice{}, err
	}
	out := rating.Invoice{Tenant: inv.Tenant, Kind: rating.InvoiceKind(inv.Kind), Period: inv.Period, IssuedAt: inv.IssuedAt,
		Currency: cur, PriceBookVersion: inv.PriceBookVersion, Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total}
	for _, l := range inv.Lines {
		out.Lines = append(out.Lines, toRatingLine(l))
	}
	return out, nil
}

func toRatingLine(l Line) rating.Line {
	return rating.Line{Kind: rating.LineKind(l.Kind), Item: l.Item, Description: l.Description, Quantity: l.Quantity,
		UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags, Adjusts: rating.LineKind(l.Adjusts)}
}

// send pushes one finalized invoice to Stripe and sets the outcome, which
// the caller records. A refusal (4xx) marks it send_failed with the
// reason and is not retried; any other failure leaves it finalized for
// the next attempt.
func (s *Service) send(ctx context.Context, inv *Invoice) error {
	log := s.log.With().Str("invoice", inv.ID).Str("tenant", inv.Tenant).Logger()
	cur, err := money.LookupCurrency(inv.Currency)
	if err != nil {
		return err
	}
	customer, err := s.cfg.Store.StripeCustomer(ctx, inv.Tenant)
	if err != nil {
		return err
	}
	req := stripesync.Invoice{ID: inv.ID, Tenant: inv.Tenant, Period: inv.Period, Currency: cur, CustomerID: customer}
	for i, l := range inv.Lines {
		req.Lines = append(req.Lines, stripesync.InvoiceLine{ID: fmt.Sprintf("L%d", i+1), Description: l.Description, Amount: l.Amount})
	}
	res, err := s.cfg.Sender.PushInvoice(ctx, req)
	switch {
	case errors.Is(err, stripesync.ErrRejected) || errors.Is(err, stripesync.ErrInvalid) || errors.Is(err, stripesync.ErrConflict):
		inv.Status, inv.StatusReason = StatusSendFailed, err.Error()
		s.cfg.Metrics.SendFailed.Inc()
		log.Error().Err(err).Msg("stripe refused the invoice; marked send_failed")
		return nil
	case err != nil:
		log.Warn().Err(err).Msg("sending invoice; it stays finalized and is retried")
		return fmt.Errorf("sending %s: %w", inv.ID, err)
	}
	if customer == "" && res.CustomerID != "" {
		if err := s.cfg.Store.SaveStripeCustomer(ctx, inv.Tenant, res.CustomerID, s.cfg.Now()); err != nil {
			return err
		}
	}
	inv.Status, inv.StatusReason = StatusSent, ""
	inv.StripeCustomerID, inv.StripeInvoiceID = res.CustomerID, res.InvoiceID
	s.cfg.Metrics.Sent.Inc()
	return nil
}

// Invoices lists invoices; empty filters match all.
func (s *Service) Invoices(ctx context.Context, tenant, period string) ([]Invoice, error) {
	return s.cfg.Store.Invoices(ctx, InvoiceFilter{Tenant: tenant, Period: period})
}

// Unbilled lists the usage of p that no invoice covers: the usage of
// tenants with no subscription in the period, credits consumed outside
// subscribed time, and tenants whose usage cannot be rated (with why).
func (s *Service) Unbilled(ctx context.Context, p Period) ([]UnbilledItem, error) {
	in, err := s.loadInputs(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []UnbilledItem
	for _, f := range in.failures {
		out = append(out, UnbilledItem{Tenant: f.Tenant, Period: p.String(), Meter: "all", Reason: "cannot be rated: " + f.Reason})
	}
	for _, t := range in.tenants {
		ti := in.byTenant[t]
		res, err := rating.RateMonth(s.cfg.Book, t, ti.changes, ti.usage, p)
		switch {
		case errors.Is(err, rating.ErrNotSubscribed):
			out = append(out, noSubscription(t, p, in.acts[t])...)
		case err != nil:
			out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "all", Reason: "cannot be rated: " + err.Error()})
		case res.UnbilledCredits.IsPositive():
			out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "ai_credits",
				Quantity: res.UnbilledCredits.String(), Reason: "consumed outside subscribed time"})
		}
	}
	return out, nil
}

func noSubscription(t string, p Period, a *TenantActivity) []UnbilledItem {
	const reason = "no subscription in the period"
	var out []UnbilledItem
	if credits := a.CreditsByMonth[p.String()]; credits.IsPositive() {
		out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "ai_credits", Quantity: credits.String(), Reason: reason})
	}
	seats := aggregators.PeakSeats(a.Seats, p.Start(), p.End())
	for _, kind := range []string{string(schemas.SeatLearner), string(schemas.SeatAuthor)} {
		if su, ok := seats[kind]; ok && su.Peak > 0 {
			out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "seats:" + kind, Quantity: fmt.Sprint(su.Peak), Reason: reason})
		}
	}
	for _, pk := range a.Packs {
		if PeriodOf(pk.Time) == p {
			if d, ok := pk.Data.(*schemas.AIPackPurchased); ok {
				out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "ai_pack:" + d.PackID,
					Quantity: d.Price.String() + " " + d.Currency.Code, Reason: reason})
			}
		}
	}
	return out
}
