package stripesync_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/stripesync"
)

func TestPushInvoiceHappyPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		currency string
		amounts  []string
		minor    []int64
	}{
		{"USD with discount", "USD", []string{"311.51", "120.00", "-43.15"}, []int64{31151, 12000, -4315}},
		{"JPY zero decimals", "JPY", []string{"2251", "-225"}, []int64{2251, -225}},
		{"EUR trailing zeros", "EUR", []string{"0.10", "19.900"}, []int64{10, 1990}},
		{"BHD three decimals", "BHD", []string{"1.234"}, []int64{1234}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			inv := stripesync.Invoice{ID: "INV-7", Tenant: "acme", Period: "2025-05", Currency: currency(t, tc.currency)}
			for i, a := range tc.amounts {
				inv.Lines = append(inv.Lines, stripesync.InvoiceLine{ID: "L" + strconv.Itoa(i), Description: "line " + a, Amount: dec(t, a)})
			}

			res, err := c.PushInvoice(context.Background(), inv)
			if err != nil {
				t.Fatalf("PushInvoice: %v", err)
			}
			if !strings.HasPrefix(res.CustomerID, "cus_") || !strings.HasPrefix(res.InvoiceID, "in_") || res.Status == "" {
				t.Errorf("result %+v: want Stripe ids and a status", res)
			}

			want := []string{rCustomerSearch, rCustomerCreate, rInvoiceSearch, rInvoiceCreate, rItemList}
			for range tc.amounts {
				want = append(want, rItemCreate)
			}
			want = append(want, rFinalize)
			if got := p.routes(); !slices.Equal(got, want) {
				t.Fatalf("requests\n got %v\nwant %v", got, want)
			}
			cur := strings.ToLower(tc.currency)

			cu := p.on(rCustomerCreate)[0]
			expectForm(t, cu, "tally-customer-acme", map[string]string{"metadata[tally_tenant]": "acme"})

			iv := p.on(rInvoiceCreate)[0]
			expectForm(t, iv, "tally-invoice-INV-7", map[string]string{
				"customer":                       res.CustomerID,
				"currency":                       cur,
				"collection_method":              "send_invoice",
				"days_until_due":                 "30",
				"auto_advance":                   "false",
				"pending_invoice_items_behavior": "exclude",
				"metadata[tally_invoice_id]":     "INV-7",
				"metadata[tally_tenant]":         "acme",
				"metadata[tally_period]":         "2025-05",
			})

			for i, it := range p.on(rItemCreate) {
				line := "L" + strconv.Itoa(i)
				expectForm(t, it, "tally-item-INV-7-"+line, map[string]string{
					"customer":                   res.CustomerID,
					"invoice":                    res.InvoiceID,
					"currency":                   cur,
					"amount":                     strconv.FormatInt(tc.minor[i], 10),
					"description":                "line " + tc.amounts[i],
					"metadata[tally_invoice_id]": "INV-7",
					"metadata[tally_line_id]":    line,
				})
			}

			fin := p.on(rFinalize)[0]
			if fin.Path != "/v1/invoices/"+res.InvoiceID+"/finalize" {
				t.Errorf("finalize path %s, want the created invoice %s", fin.Path, res.InvoiceID)
			}
			expectForm(t, fin, "tally-finalize-INV-7", map[string]string{"auto_advance": "false"})

			assertInvoicePushedOnce(t, p, len(tc.amounts))
		})
	}
}

// expectForm checks an exchange's idempotency key and form fields.
func expectForm(t *testing.T, ex exchange, key string, fields map[string]string) {
	t.Helper()
	if ex.Key != key {
		t.Errorf("%s: Idempotency-Key %q, want %q", ex.Route, ex.Key, key)
	}
	for k, v := range fields {
		if got := ex.Form.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", ex.Route, k, got, v)
		}
	}
}

func TestPushInvoiceKnownCustomer(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	inv := testInvoice(t)
	inv.CustomerID = "cus_known"

	res, err := c.PushInvoice(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	if res.CustomerID != "cus_known" {
		t.Errorf("customer %s, want cus_known", res.CustomerID)
	}
	if n := len(p.on(rCustomerSearch)) + len(p.on(rCustomerCreate)); n != 0 {
		t.Errorf("%d customer requests, want none", n)
	}
	if got := p.on(rInvoiceCreate)[0].Form.Get("customer"); got != "cus_known" {
		t.Errorf("invoice for customer %s, want cus_known", got)
	}
}

// Stripe answering 429 then 500 then success, on every write, creates
// exactly one customer, one invoice, one set of items and one finalize.
func TestPushInvoiceRetries429Then500(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	for _, r := range []string{rCustomerSearch, rCustomerCreate, rInvoiceSearch, rInvoiceCreate, rItemList, rItemCreate, rFinalize} {
		p.inject(r, rateLimited, serverError)
	}

	if _, err := c.PushInvoice(context.Background(), testInvoice(t)); err != nil {
		t.Fatalf("PushInvoice: %v", err)
	}
	for _, r := range []string{rCustomerCreate, rInvoiceCreate, rFinalize} {
		if got, want := p.outcomes(r), []string{"respond", "respond", "forwarded"}; !slices.Equal(got, want) {
			t.Errorf("%s: outcomes %v, want %v", r, got, want)
		}
		if keys := distinctKeys(p.on(r)); len(keys) != 1 {
			t.Errorf("%s: keys %q, want one key for all attempts", r, keys)
		}
	}
	// The first item took the faults: three attempts under one key.
	if got := p.on(rItemCreate)[:3]; len(distinctKeys(got)) != 1 {
		t.Errorf("first item attempts used keys %q", distinctKeys(got))
	}
	assertInvoicePushedOnce(t, p, 3)
	assertNoKeyMismatch(t, p)
}

// Connection resets, timeouts, HTML 502s and answers lost after Stripe
// applied the write are all retried under the same key: the retry of a lost
// answer is a replay, not a second object.
func TestPushInvoiceNetworkFaults(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p, func(cfg *stripesync.Config) { cfg.AttemptTimeout = 300 * time.Millisecond })
	p.inject(rCustomerSearch, respond(502, "<html>Bad Gateway</html>"))
	p.inject(rCustomerCreate, resetConn, lostAnswer)
	p.inject(rInvoiceCreate, hangConn, lostAnswer)
	p.inject(rItemCreate, pass, lostAnswer, resetConn)
	p.inject(rFinalize, lostAnswer, hangConn)

	if _, err := c.PushInvoice(context.Background(), testInvoice(t)); err != nil {
		t.Fatalf("PushInvoice: %v", err)
	}
	for r, want := range map[string][]string{
		rCustomerCreate: {"reset", "lost", "replayed"},
		rInvoiceCreate:  {"hang", "lost", "replayed"},
		rItemCreate:     {"forwarded", "lost", "reset", "replayed", "forwarded"},
		rFinalize:       {"lost", "hang", "replayed"},
	} {
		if got := p.outcomes(r); !slices.Equal(got, want) {
			t.Errorf("%s: outcomes %v, want %v", r, got, want)
		}
	}
	assertInvoicePushedOnce(t, p, 3)
	assertNoKeyMismatch(t, p)
}

// A crash part-way (modelled by the caller's context ending while a request
// is in flight), then a second PushInvoice, creates nothing twice: every
// write already applied is replayed under its key.
func TestPushInvoiceResumeAfterCrash(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		route  string
		nth    int   // crash on the nth request on route
		fault  fault // hang: never applied; lost: applied, answer lost
		replay int   // writes of the second run expected to be replays
	}{
		{"before second item", rItemCreate, 2, hangConn, 3},    // customer, invoice, item 1
		{"second item applied", rItemCreate, 2, lostAnswer, 4}, // + item 2
		{"before finalize", rFinalize, 1, hangConn, 5},         // customer, invoice, 3 items
		{"finalize applied", rFinalize, 1, lostAnswer, 6},      // everything
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			faults := make([]fault, tc.nth)
			for i := range faults {
				faults[i] = pass
			}
			faults[tc.nth-1] = tc.fault
			p.inject(tc.route, faults...)
			p.onRequest(tc.route, func(n int) {
				if n == tc.nth {
					cancel()
				}
			})

			_, err := c.PushInvoice(ctx, testInvoice(t))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first PushInvoice: %v, want context.Canceled", err)
			}
			// The crashed process is gone, but its last request may still be
			// on its way to Stripe (a lost answer is applied after the client
			// gave up): the restart comes after Stripe handled it, as it
			// would after a real crash, not racing it.
			deadline := time.Now().Add(10 * time.Second)
			for len(p.on(tc.route)) < tc.nth {
				if time.Now().After(deadline) {
					t.Fatalf("the proxy never finished request %d on %s", tc.nth, tc.route)
				}
				time.Sleep(5 * time.Millisecond)
			}
			before := len(p.exchanges())

			res, err := c.PushInvoice(context.Background(), testInvoice(t))
			if err != nil {
				t.Fatalf("second PushInvoice: %v", err)
			}
			if res.InvoiceID == "" {
				t.Errorf("no invoice id in %+v", res)
			}
			replays := 0
			for _, ex := range p.exchanges()[before:] {
				if ex.Outcome == "replayed" {
					replays++
				}
			}
			if replays != tc.replay {
				t.Errorf("second run replayed %d writes, want %d", replays, tc.replay)
			}
			assertInvoicePushedOnce(t, p, 3)
			assertNoKeyMismatch(t, p)
		})
	}
}

func TestPushInvoicePermanentErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		route      string
		fault      fault
		status     int
		code, msg  string
		notReached []string
	}{
		{
			name:   "400 on invoice create",
			route:  rInvoiceCreate,
			fault:  stripeError(400, "invalid_request_error", "parameter_invalid_integer", "Invalid integer: days_until_due"),
			status: 400, code: "parameter_invalid_integer", msg: "Invalid integer: days_until_due",
			notReached: []string{rItemCreate, rFinalize},
		},
		{
			name:   "401 bad key on customer create",
			route:  rCustomerCreate,
			fault:  stripeError(401, "invalid_request_error", "", "Invalid API Key provided: sk_test_****6789"),
			status: 401, msg: "Invalid API Key provided: sk_test_****6789",
			notReached: []string{rInvoiceCreate, rItemCreate, rFinalize},
		},
		{
			name:   "400 on an item",
			route:  rItemCreate,
			fault:  stripeError(400, "invalid_request_error", "amount_too_large", "Amount must be no more than $999,999.99"),
			status: 400, code: "amount_too_large", msg: "Amount must be no more than $999,999.99",
			notReached: []string{rFinalize},
		},
		{
			name:   "503 with Stripe-Should-Retry false",
			route:  rInvoiceCreate,
			fault:  respond(503, `{"error":{"type":"api_error","message":"not now, not ever"}}`, "Stripe-Should-Retry", "false"),
			status: 503, msg: "not now, not ever",
			notReached: []string{rItemCreate, rFinalize},
		},
		{
			name:       "400 without a Stripe body",
			route:      rInvoiceCreate,
			fault:      respond(400, "<html>bad request</html>"),
			status:     400,
			notReached: []string{rItemCreate, rFinalize},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			p.inject(tc.route, tc.fault, tc.fault, tc.fault)

			_, err := c.PushInvoice(context.Background(), testInvoice(t))
			var pe *stripesync.PermanentError
			if !errors.As(err, &pe) || !errors.Is(err, stripesync.ErrRejected) {
				t.Fatalf("err %v, want a *PermanentError wrapping ErrRejected", err)
			}
			if pe.Status != tc.status || pe.Code != tc.code || (tc.msg != "" && pe.Message != tc.msg) {
				t.Errorf("got status %d code %q message %q, want %d %q %q", pe.Status, pe.Code, pe.Message, tc.status, tc.code, tc.msg)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not carry Stripe's message", err)
			}
			if n := len(p.on(tc.route)); n != 1 {
				t.Errorf("%s: %d attempts, want exactly 1", tc.route, n)
			}
			for _, r := range tc.notReached {
				if n := len(p.on(r)); n != 0 {
					t.Errorf("%s: %d requests after a permanent error, want 0", r, n)
				}
			}
		})
	}
}

// 409 (a concurrent request holds the key) and a 400 marked
// Stripe-Should-Retry: true are retried.
func TestPushInvoiceRetryableByStripe(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	p.inject(rInvoiceCreate,
		stripeError(409, "idempotency_error", "idempotency_key_in_use", "There is currently another in-progress request using this Idempotent Key"),
		respond(400, `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"lock"}}`, "Stripe-Should-Retry", "true"))
	if _, err := c.PushInvoice(context.Background(), testInvoice(t)); err != nil {
		t.Fatalf("PushInvoice: %v", err)
	}
	if got, want := p.outcomes(rInvoiceCreate), []string{"respond", "respond", "forwarded"}; !slices.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}

func TestPushInvoiceGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p, func(cfg *stripesync.Config) { cfg.MaxAttempts = 3 })
	p.inject(rCustomerCreate, serverError, rateLimited, serverError, serverError, serverError)

	_, err := c.PushInvoice(context.Background(), testInvoice(t))
	if !errors.Is(err, stripesync.ErrUnavailable) || errors.Is(err, stripesync.ErrRejected) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if n := len(p.on(rCustomerCreate)); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if n := len(p.on(rInvoiceCreate)); n != 0 {
		t.Errorf("invoice created after the customer failed")
	}
}

// The caller's context ends the wait between attempts at once, even when
// Stripe asks to wait longer.
func TestPushInvoiceHonoursContextDuringBackoff(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p, func(cfg *stripesync.Config) { cfg.MaxBackoff = time.Minute })
	p.inject(rCustomerCreate, respond(429, `{"error":{"type":"invalid_request_error","message":"slow down"}}`, "Retry-After", "30"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := c.PushInvoice(ctx, testInvoice(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned after %v, want soon after the deadline", d)
	}
	if n := len(p.on(rCustomerCreate)); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// Amounts Stripe cannot take exactly, and malformed invoices, are refused
// before any request.
func TestPushInvoiceRefusesBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	line := func(id, amount string) stripesync.InvoiceLine {
		return stripesync.InvoiceLine{ID: id, Amount: dec(t, amount)}
	}
	cases := []struct {
		name   string
		edit   func(*stripesync.Invoice)
		target error
	}{
		{"USD fraction of a cent", func(inv *stripesync.Invoice) { inv.Lines = append(inv.Lines, line("x", "1.005")) }, money.ErrTooManyDigits},
		{"JPY fraction of a yen", func(inv *stripesync.Invoice) {
			inv.Currency = currency(t, "JPY")
			inv.Lines = []stripesync.InvoiceLine{line("a", "2251"), line("b", "10.5")}
		}, money.ErrTooManyDigits},
		{"negative fraction", func(inv *stripesync.Invoice) { inv.Lines[2] = line("discount", "-43.155") }, money.ErrTooManyDigits},
		{"overflow", func(inv *stripesync.Invoice) { inv.Lines[0] = line("base", "100000000000000000000") }, money.ErrOverflow},
		{"no lines", func(inv *stripesync.Invoice) { inv.Lines = nil }, stripesync.ErrInvalid},
		{"duplicate line id", func(inv *stripesync.Invoice) { inv.Lines[1].ID = "base" }, stripesync.ErrInvalid},
		{"empty line id", func(inv *stripesync.Invoice) { inv.Lines[1].ID = "" }, stripesync.ErrInvalid},
		{"zero currency", func(inv *stripesync.Invoice) { inv.Currency = money.Currency{} }, stripesync.ErrInvalid},
		{"wrong minor units", func(inv *stripesync.Invoice) { inv.Currency = money.Currency{Code: "JPY", MinorUnits: 2} }, stripesync.ErrInvalid},
		{"no tenant", func(inv *stripesync.Invoice) { inv.Tenant = "" }, stripesync.ErrInvalid},
		{"no id", func(inv *stripesync.Invoice) { inv.ID = "" }, stripesync.ErrInvalid},
		{"key too long", func(inv *stripesync.Invoice) { inv.Lines[0].ID = strings.Repeat("l", 250) }, stripesync.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			inv := testInvoice(t)
			tc.edit(&inv)
			_, err := c.PushInvoice(context.Background(), inv)
			if !errors.Is(err, stripesync.ErrInvalid) || !errors.Is(err, tc.target) {
				t.Fatalf("err %v, want ErrInvalid and %v", err, tc.target)
			}
			if n := len(p.exchanges()); n != 0 {
				t.Errorf("%d requests sent, want none: %v", n, p.routes())
			}
		})
	}
}

// One attempt is one HTTP request: net/http's own silent resend of a request
// carrying an Idempotency-Key on a reused connection is turned off, so
// MaxAttempts bounds what Stripe sees.
func TestPushInvoiceAttemptIsOneRequest(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p, func(cfg *stripesync.Config) { cfg.MaxAttempts = 2 })
	// The customer search before it leaves a keep-alive connection to reuse.
	p.inject(rCustomerCreate, resetConn, resetConn)

	_, err := c.PushInvoice(context.Background(), testInvoice(t))
	if !errors.Is(err, stripesync.ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable after 2 attempts", err)
	}
	if got := p.outcomes(rCustomerCreate); !slices.Equal(got, []string{"reset", "reset"}) {
		t.Errorf("outcomes %v, want exactly two requests", got)
	}
}
