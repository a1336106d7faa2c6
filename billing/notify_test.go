package billing

import (
	"context"
	"testing"

	"github.com/tally-billing/tally/money"
)

// fakeNotifier records the invoices told, and whether the period was
// recorded closed, and the invoice's sent status stored, when they were.
type fakeNotifier struct {
	f                    *fixture
	finalized, sent      []Invoice
	closedWhenFinalized  []bool
	storedStatusWhenSent []string
}

func (n *fakeNotifier) InvoicesFinalized(ctx context.Context, invs []Invoice) error {
	at, _, _ := n.f.store.ClosedPeriod(ctx, invs[0].Period)
	n.finalized = append(n.finalized, invs...)
	n.closedWhenFinalized = append(n.closedWhenFinalized, !at.IsZero())
	return nil
}

func (n *fakeNotifier) InvoicesSent(ctx context.Context, invs []Invoice) error {
	stored, _ := n.f.store.Invoices(ctx, InvoiceFilter{ID: invs[0].ID})
	n.sent = append(n.sent, invs...)
	n.storedStatusWhenSent = append(n.storedStatusWhenSent, stored[0].Status)
	return nil
}

// TestNotifierHearsFinalizedAndSent: acme's November (311.51, worked in
// close_test.go) is told finalized before the close is recorded, and
// sent before its sent status is stored; a re-close tells the finalized
// invoice again (the notifier keeps one message per fact) and sends
// nothing.
func TestNotifierHearsFinalizedAndSent(t *testing.T) {
	f := senderFixture(t)
	n := &fakeNotifier{f: f}
	f.svc.cfg.Notifier = n
	if _, err := f.closeErr("2026-11"); err != nil {
		t.Fatal(err)
	}
	if len(n.finalized) != 1 || n.finalized[0].Tenant != "acme" || money.FormatCode(n.finalized[0].Total, "USD") != "311.51" ||
		n.closedWhenFinalized[0] {
		t.Fatalf("finalized %+v, period closed when told %v", n.finalized, n.closedWhenFinalized)
	}
	if len(n.sent) != 1 || n.sent[0].ID != n.finalized[0].ID || n.sent[0].Status != StatusSent || n.storedStatusWhenSent[0] != StatusFinalized {
		t.Fatalf("sent %+v, stored status when told %v", n.sent, n.storedStatusWhenSent)
	}
	if _, err := f.closeErr("2026-11"); err != nil {
		t.Fatal(err)
	}
	if len(n.finalized) != 2 || n.finalized[1].ID != n.finalized[0].ID || len(n.sent) != 1 {
		t.Errorf("re-close told finalized %d, sent %d times; want 2 and 1", len(n.finalized), len(n.sent))
	}
}
