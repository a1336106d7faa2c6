package stripesync_test

import (
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/stripesync"
)

const testKey = "sk_test_tallySecret0123456789"

// Routes, as the proxy names them.
const (
	rCustomerSearch = "GET /v1/customers/search"
	rCustomerCreate = "POST /v1/customers"
	rInvoiceSearch  = "GET /v1/invoices/search"
	rInvoiceCreate  = "POST /v1/invoices"
	rInvoiceGet     = "GET /v1/invoices/*"
	rItemList       = "GET /v1/invoiceitems"
	rItemCreate     = "POST /v1/invoiceitems"
	rFinalize       = "POST /v1/invoices/*/finalize"
	rTransferList   = "GET /v1/transfers"
	rTransferCreate = "POST /v1/transfers"
)

// newClient returns a client talking to p, with test-sized backoffs.
func newClient(t *testing.T, p *stripeProxy, opts ...func(*stripesync.Config)) *stripesync.Client {
	t.Helper()
	cfg := stripesync.Config{
		Key:            testKey,
		APIBase:        p.URL(),
		MaxAttempts:    6,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
		AttemptTimeout: 5 * time.Second,
		Logger:         zerolog.New(zerolog.NewTestWriter(t)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := stripesync.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func currency(t testing.TB, code string) money.Currency {
	t.Helper()
	c, err := money.LookupCurrency(code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dec(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testInvoice is a USD invoice with a base fee, seats and a discount.
func testInvoice(t testing.TB) stripesync.Invoice {
	return stripesync.Invoice{
		ID:       "INV-2025-05-acme",
		Tenant:   "acme",
		Period:   "2025-05",
		Currency: currency(t, "USD"),
		Lines: []stripesync.InvoiceLine{
			{ID: "base", Description: "Team plan, May 2025", Amount: dec(t, "311.51")},
			{ID: "seats", Description: "12 seats at 10.00", Amount: dec(t, "120.00")},
			{ID: "discount", Description: "Annual discount", Amount: dec(t, "-43.15")},
		},
	}
}

// distinctKeys returns the distinct idempotency keys of exs, in order.
func distinctKeys(exs []exchange) []string {
	var keys []string
	for _, ex := range exs {
		if !slices.Contains(keys, ex.Key) {
			keys = append(keys, ex.Key)
		}
	}
	return keys
}

// assertApplied checks that on route every idempotency key was applied
// once at most and that want distinct objects exist.
func assertApplied(t *testing.T, p *stripeProxy, route string, want int) {
	t.Helper()
	applied := p.applied(route)
	keys := distinctKeys(applied)
	if len(keys) != len(applied) {
		t.Errorf("%s: a key was applied twice: %v", route, p.outcomes(route))
	}
	if len(keys) != want {
		t.Errorf("%s: %d objects created (keys %q), want %d; outcomes %v", route, len(keys), keys, want, p.outcomes(route))
	}
}

// assertInvoicePushedOnce checks that one customer, one invoice, items
// invoice items and one finalize were created, each once.
func assertInvoicePushedOnce(t *testing.T, p *stripeProxy, items int) {
	t.Helper()
	assertApplied(t, p, rCustomerCreate, 1)
	assertApplied(t, p, rInvoiceCreate, 1)
	assertApplied(t, p, rItemCreate, items)
	assertApplied(t, p, rFinalize, 1)
}

// assertNoKeyMismatch checks that every retry re-sent the same parameters
// under its key (the proxy answers a mismatch like Stripe does).
func assertNoKeyMismatch(t *testing.T, p *stripeProxy) {
	t.Helper()
	for _, ex := range p.exchanges() {
		if ex.Outcome == "key-mismatch" {
			t.Errorf("%s with key %s re-sent with other parameters: %v", ex.Route, ex.Key, ex.Form)
		}
	}
}
