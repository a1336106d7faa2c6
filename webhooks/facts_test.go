package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/payouts"
)

// idOracle is SPEC's deterministic id worked here: msg_ and the first 16
// bytes, in hex, of SHA-256 over the type and the key parts, each
// followed by a zero byte.
func idOracle(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p + "\x00"))
	}
	return "msg_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// TestFactsAreOneMessageEach: telling the same facts again (a re-close,
// a crash and retry) publishes nothing new; the ids depend on the fact.
func TestFactsAreOneMessageEach(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	f := w.svc.Facts()
	issued := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	inv := billing.Invoice{ID: "inv_1", Tenant: "t-a", Period: "2026-11", Kind: billing.KindMonthly, Currency: "USD",
		Total: moneytest.D("1234.5"), Status: billing.StatusSent, StripeInvoiceID: "in_1", IssuedAt: issued}
	for range 2 {
		if err := f.InvoicesFinalized(ctx, []billing.Invoice{inv, inv}); err != nil {
			t.Fatal(err)
		}
		if err := f.InvoicesSent(ctx, []billing.Invoice{inv}); err != nil {
			t.Fatal(err)
		}
	}
	asOf := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	p := payouts.Payout{ID: "po_1", Provider: "prov-a", Currency: "USD", Amount: moneytest.D("68"), AsOf: asOf, Status: payouts.StatusPaid}
	held := payouts.Held{Provider: "prov-b", Currency: "USD", Available: moneytest.D("68")}
	for range 2 {
		if err := f.PayoutsSettled(ctx, []payouts.Payout{p}); err != nil {
			t.Fatal(err)
		}
		if err := f.PayoutsHeld(ctx, asOf, []payouts.Held{held}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		idOracle("invoice.finalized", "inv_1"):                           "invoice.finalized",
		idOracle("invoice.sent", "inv_1"):                                "invoice.sent",
		idOracle("payout.paid", "po_1"):                                  "payout.paid",
		idOracle("payout.held", "prov-b", "USD", "2026-11-30T00:00:00Z"): "payout.held",
	}
	if len(w.queue.messages) != len(want) {
		t.Fatalf("published %d messages, want %d", len(w.queue.messages), len(want))
	}
	for _, m := range w.queue.messages {
		if want[m.ID] != m.Type {
			t.Errorf("message %s of type %s: not the fact's id", m.ID, m.Type)
		}
		var d map[string]any
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case TypeInvoiceFinalized:
			if d["total"] != "1234.50" || d["status"] != "finalized" || m.Tenant != "t-a" || !m.Timestamp.Equal(issued) {
				t.Errorf("invoice.finalized %s %v", m.Data, m.Timestamp)
			}
		case TypePayoutPaid:
			if d["amount"] != "68.00" || m.Tenant != "" {
				t.Errorf("payout.paid %s", m.Data)
			}
		case TypePayoutHeld:
			if d["available"] != "68.00" || d["reason"] != "kyc_missing" {
				t.Errorf("payout.held %s", m.Data)
			}
		}
	}
}
