package payouts

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// counter is a metric counter that tells how often it was incremented.
type counter struct {
	prometheus.Counter
	n atomic.Int64
}

func newCounter() *counter {
	return &counter{Counter: prometheus.NewCounter(prometheus.CounterOpts{Name: "test_total", Help: "test"})}
}

func (c *counter) Inc() { c.n.Add(1); c.Counter.Inc() }

// world is a service wired to fakes, with a clock the test moves.
type world struct {
	svc                *Service
	events             *fakeEvents
	store              *fakeStore
	sender             *fakeSender
	rejecter           *fakeRejecter
	paid, failed, runs *counter
	now                time.Time
}

// newWorld wires a service on the shipped price book (15 % fee, 14-day
// hold, minimum payout 50) to fresh fakes; dry leaves the sender out.
func newWorld(t testing.TB, dry bool) *world {
	t.Helper()
	w := &world{events: &fakeEvents{}, store: newFakeStore(), sender: newFakeSender(), rejecter: &fakeRejecter{},
		paid: newCounter(), failed: newCounter(), runs: newCounter(), now: ts("2026-12-02T08:00:00Z")}
	cfg := storeConfig(w.store)
	cfg.Book, cfg.Events, cfg.Rejecter = pricebook.Default(), w.events, w.rejecter
	cfg.Now, cfg.Logger = func() time.Time { return w.now }, zerolog.New(zerolog.NewTestWriter(t))
	cfg.Metrics = &Metrics{Paid: w.paid, Failed: w.failed, Runs: w.runs}
	if !dry {
		cfg.Sender = w.sender
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// Event builders. Ids are the order, refund or provider ids prefixed.

func saleEvent(provider, order, at string, c money.Currency, gross, tax string) *schemas.Event {
	return &schemas.Event{ID: "sale-" + order + "-" + provider, Source: "checkout", Type: schemas.TypeSaleCompleted, Subject: provider, Time: ts(at),
		Data: &schemas.SaleCompleted{OrderID: order, BuyerID: "buyer-1", CourseID: "course-" + order, Currency: c, Gross: d(gross), Tax: d(tax)}}
}

func refundEvent(provider, order, refund, at string, c money.Currency, amount string) *schemas.Event {
	return &schemas.Event{ID: "refund-" + refund + "-" + provider, Source: "checkout", Type: schemas.TypeRefundIssued, Subject: provider, Time: ts(at),
		Data: &schemas.RefundIssued{OrderID: order, RefundID: refund, Currency: c, Amount: d(amount)}}
}

func kycEvent(provider, at, account string) *schemas.Event {
	return &schemas.Event{ID: "kyc-" + provider + "-" + at, Source: "kyc", Type: schemas.TypeKYCVerified, Subject: provider, Time: ts(at),
		Data: &schemas.KYCVerified{StripeAccount: account}}
}

func revokeEvent(provider, at string) *schemas.Event {
	return &schemas.Event{ID: "revoke-" + provider + "-" + at, Source: "kyc", Type: schemas.TypeKYCRevoked, Subject: provider, Time: ts(at),
		Data: &schemas.KYCRevoked{}}
}
