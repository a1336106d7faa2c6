package stripesync_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/payouts"
	"github.com/tally-billing/tally/stripesync"
)

func testTransfer(t testing.TB) stripesync.Transfer {
	return stripesync.Transfer{
		PayoutID:    "PO-2025-06-01-prov1-USD",
		Account:     "acct_1Provider",
		Currency:    currency(t, "USD"),
		Amount:      dec(t, "1234.56"),
		Description: "Tally payout June 2025",
	}
}

func TestPushTransferHappyPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code, amount, minor string
	}{
		{"USD", "1234.56", "123456"},
		{"JPY", "2251", "2251"},
		{"EUR", "50.10", "5010"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			tr := testTransfer(t)
			tr.Currency, tr.Amount = currency(t, tc.code), dec(t, tc.amount)

			id, err := c.PushTransfer(context.Background(), tr)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(id, "tr_") {
				t.Errorf("transfer id %q", id)
			}
			if got := p.on(rTransferList)[0].Form.Get("transfer_group"); got != "tally-payout-PO-2025-06-01-prov1-USD" {
				t.Errorf("listed group %q", got)
			}
			expectForm(t, p.on(rTransferCreate)[0], "tally-transfer-PO-2025-06-01-prov1-USD", map[string]string{
				"amount":                    tc.minor,
				"currency":                  strings.ToLower(tc.code),
				"destination":               "acct_1Provider",
				"transfer_group":            "tally-payout-PO-2025-06-01-prov1-USD",
				"description":               "Tally payout June 2025",
				"metadata[tally_payout_id]": "PO-2025-06-01-prov1-USD",
			})
			assertApplied(t, p, rTransferCreate, 1)
		})
	}
}

// Retries of every kind, then a second push of the same payout, leave one
// transfer, and every push answers its id.
func TestPushTransferOncePerPayout(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p, func(cfg *stripesync.Config) { cfg.AttemptTimeout = 300 * time.Millisecond })
	p.inject(rTransferList, serverError)
	p.inject(rTransferCreate, rateLimited, serverError, resetConn, lostAnswer, hangConn)

	first, err := c.PushTransfer(context.Background(), testTransfer(t))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.PushTransfer(context.Background(), testTransfer(t))
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("second push answered %s, first %s", second, first)
	}
	want := "respond respond reset lost hang replayed replayed"
	if got := strings.Join(p.outcomes(rTransferCreate), " "); got != want {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	assertApplied(t, p, rTransferCreate, 1)
	assertNoKeyMismatch(t, p)
}

func TestPushTransferRejected(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	const msg = "Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments"
	rejected := stripeError(400, "invalid_request_error", "insufficient_capabilities_for_transfer", msg)
	p.inject(rTransferCreate, rejected, rejected)

	_, err := c.PushTransfer(context.Background(), testTransfer(t))
	var pe *stripesync.PermanentError
	if !errors.As(err, &pe) || !errors.Is(err, stripesync.ErrRejected) {
		t.Fatalf("err %v, want a *PermanentError", err)
	}
	if pe.Status != 400 || pe.Code != "insufficient_capabilities_for_transfer" || pe.Message != msg {
		t.Errorf("got %+v", pe)
	}
	if n := len(p.on(rTransferCreate)); n != 1 {
		t.Errorf("%d attempts, want exactly 1", n)
	}
}

// A transfer already in Stripe for the payout (key expired) is returned, not
// created again; one that differs is a conflict.
func TestPushTransferFindsExisting(t *testing.T) {
	t.Parallel()
	const found = `{"id":"tr_existing","object":"transfer","amount":%s,"currency":"usd","destination":"acct_1Provider","transfer_group":"tally-payout-PO-2025-06-01-prov1-USD","metadata":{"tally_payout_id":"PO-2025-06-01-prov1-USD"}}`
	t.Run("same", func(t *testing.T) {
		t.Parallel()
		p := newStripeProxy(t)
		c := newClient(t, p)
		p.inject(rTransferList, list("/v1/transfers", strings.Replace(found, "%s", "123456", 1)))
		id, err := c.PushTransfer(context.Background(), testTransfer(t))
		if err != nil || id != "tr_existing" {
			t.Fatalf("got %q, %v; want tr_existing", id, err)
		}
		if n := len(p.on(rTransferCreate)); n != 0 {
			t.Errorf("%d creates, want 0", n)
		}
	})
	t.Run("different amount", func(t *testing.T) {
		t.Parallel()
		p := newStripeProxy(t)
		c := newClient(t, p)
		p.inject(rTransferList, list("/v1/transfers", strings.Replace(found, "%s", "999", 1)))
		if _, err := c.PushTransfer(context.Background(), testTransfer(t)); !errors.Is(err, stripesync.ErrConflict) {
			t.Fatalf("err %v, want ErrConflict", err)
		}
		if n := len(p.on(rTransferCreate)); n != 0 {
			t.Errorf("%d creates, want 0", n)
		}
	})
}

func TestPushTransferRefusesBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		edit   func(*stripesync.Transfer)
		target error
	}{
		{"USD fraction of a cent", func(tr *stripesync.Transfer) { tr.Amount = dec(t, "10.001") }, money.ErrTooManyDigits},
		{"JPY fraction of a yen", func(tr *stripesync.Transfer) { tr.Currency, tr.Amount = currency(t, "JPY"), dec(t, "10.5") }, money.ErrTooManyDigits},
		{"zero", func(tr *stripesync.Transfer) { tr.Amount = dec(t, "0") }, stripesync.ErrInvalid},
		{"negative", func(tr *stripesync.Transfer) { tr.Amount = dec(t, "-5.00") }, stripesync.ErrInvalid},
		{"not an account", func(tr *stripesync.Transfer) { tr.Account = "cus_123" }, stripesync.ErrInvalid},
		{"no payout id", func(tr *stripesync.Transfer) { tr.PayoutID = "" }, stripesync.ErrInvalid},
		{"zero currency", func(tr *stripesync.Transfer) { tr.Currency = money.Currency{} }, stripesync.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			tr := testTransfer(t)
			tc.edit(&tr)
			_, err := c.PushTransfer(context.Background(), tr)
			if !errors.Is(err, stripesync.ErrInvalid) || !errors.Is(err, tc.target) {
				t.Fatalf("err %v, want ErrInvalid and %v", err, tc.target)
			}
			if n := len(p.exchanges()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

// The payouts port: a transfer Stripe refuses, or one that cannot be sent
// as given, is marked payouts.ErrTransferRefused with the adapter's text
// kept (it becomes the payout's status reason); one that is only
// unavailable is not, so the payout stays pending.
func TestTransferSenderClassifiesRefusals(t *testing.T) {
	t.Parallel()
	port := func(tr stripesync.Transfer) payouts.Transfer {
		return payouts.Transfer{PayoutID: tr.PayoutID, Account: tr.Account, Currency: tr.Currency, Amount: tr.Amount, Description: tr.Description}
	}
	rejected := stripeError(400, "invalid_request_error", "insufficient_capabilities_for_transfer", "no transfers capability")
	cases := []struct {
		name    string
		faults  []fault
		edit    func(*payouts.Transfer)
		refused bool
		also    error
	}{
		{name: "accepted"},
		{name: "rejected by stripe", faults: []fault{rejected}, refused: true, also: stripesync.ErrRejected},
		{name: "invalid before any request", edit: func(tr *payouts.Transfer) { tr.Account = "cus_123" }, refused: true, also: stripesync.ErrInvalid},
		{name: "unavailable", faults: []fault{serverError, serverError}, also: stripesync.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p, func(cfg *stripesync.Config) { cfg.MaxAttempts = 2 })
			p.inject(rTransferCreate, tc.faults...)
			tr := port(testTransfer(t))
			if tc.edit != nil {
				tc.edit(&tr)
			}
			id, err := stripesync.NewTransferSender(c).PushTransfer(context.Background(), tr)
			if tc.also == nil {
				if err != nil || !strings.HasPrefix(id, "tr_") {
					t.Fatalf("got %q, %v; want a transfer id", id, err)
				}
				return
			}
			if errors.Is(err, payouts.ErrTransferRefused) != tc.refused || !errors.Is(err, tc.also) {
				t.Fatalf("err %v: refused %v, want %v, and want %v in the chain", err, errors.Is(err, payouts.ErrTransferRefused), tc.refused, tc.also)
			}
			// The text is the adapter's own, without the class prepended.
			if !strings.HasPrefix(err.Error(), "pushing transfer for payout ") && !strings.HasPrefix(err.Error(), "checking transfer for payout ") {
				t.Errorf("reason %q", err)
			}
		})
	}
}
