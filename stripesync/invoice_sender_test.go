package stripesync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/stripesync"
)

// billingPush is billing's request for testInvoice's invoice, as billing
// builds it: lines numbered L1, L2, ... in order.
func billingPush(t *testing.T) billing.InvoicePush {
	return billing.InvoicePush{ID: "INV-2025-05-acme", Tenant: "acme", Period: "2025-05", Currency: currency(t, "USD"),
		Lines: []billing.PushLine{
			{ID: "L1", Description: "Team plan, May 2025", Amount: dec(t, "199.00")},
			{ID: "L2", Description: "Annual discount", Amount: dec(t, "-39.80")},
		}}
}

// The adapter sends billing's invoice as it is: its lines with their ids
// and amounts in minor units, under the customer billing knows.
func TestInvoiceSenderSendsBillingsInvoice(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	s := stripesync.NewInvoiceSender(newClient(t, p))
	push := billingPush(t)
	push.CustomerID = "cus_known"

	got, err := s.SendInvoice(context.Background(), push)
	if err != nil {
		t.Fatalf("SendInvoice: %v", err)
	}
	if got.CustomerID != "cus_known" || !strings.HasPrefix(got.InvoiceID, "in_") {
		t.Errorf("result %+v, want customer cus_known and a Stripe invoice id", got)
	}
	if n := len(p.on(rCustomerSearch)) + len(p.on(rCustomerCreate)); n != 0 {
		t.Errorf("%d customer requests with the customer known, want 0", n)
	}
	expectForm(t, p.on(rInvoiceCreate)[0], "tally-invoice-INV-2025-05-acme", map[string]string{
		"customer": "cus_known", "currency": "usd", "metadata[tally_period]": "2025-05", "metadata[tally_tenant]": "acme"})
	items := p.on(rItemCreate)
	if len(items) != 2 {
		t.Fatalf("%d items created, want 2", len(items))
	}
	// 199.00 USD is 19900 cents; −39.80 is −3980.
	expectForm(t, items[0], "tally-item-INV-2025-05-acme-L1", map[string]string{"amount": "19900", "metadata[tally_line_id]": "L1"})
	expectForm(t, items[1], "tally-item-INV-2025-05-acme-L2", map[string]string{"amount": "-3980", "metadata[tally_line_id]": "L2"})
}

// Refusals (a 4xx, an invoice Stripe cannot take, a conflicting object)
// are billing's ErrSendRefused with Stripe's text as the reason; an
// outage is not.
func TestInvoiceSenderClassifiesErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		faults  map[string][]fault
		edit    func(*billing.InvoicePush)
		refused bool
		class   error // the stripesync class the error keeps
	}{
		{name: "400 on invoice create", refused: true, class: stripesync.ErrRejected,
			faults: map[string][]fault{rInvoiceCreate: {stripeError(400, "invalid_request_error", "parameter_invalid_integer", "Invalid integer")}}},
		{name: "fraction of a cent", refused: true, class: stripesync.ErrInvalid,
			edit: func(p *billing.InvoicePush) { p.Lines[0].Amount = dec(t, "199.005") }},
		{name: "item with another amount", refused: true, class: stripesync.ErrConflict,
			faults: map[string][]fault{
				rCustomerSearch: {searchResult("/v1/customers/search", existingCustomer)},
				rInvoiceSearch:  {searchResult("/v1/invoices/search", existingDraft)},
				rItemList:       {list("/v1/invoiceitems", conflictingItem)},
			},
			edit: func(p *billing.InvoicePush) { p.Lines[0].ID = "base" }},
		{name: "unavailable", refused: false, class: stripesync.ErrUnavailable,
			faults: map[string][]fault{rCustomerCreate: {serverError, serverError, serverError, serverError, serverError, serverError}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			for r, fs := range tc.faults {
				p.inject(r, fs...)
			}
			push := billingPush(t)
			if tc.edit != nil {
				tc.edit(&push)
			}
			_, err := stripesync.NewInvoiceSender(newClient(t, p)).SendInvoice(context.Background(), push)
			if !errors.Is(err, tc.class) {
				t.Fatalf("err %v, want it to keep %v", err, tc.class)
			}
			if errors.Is(err, billing.ErrSendRefused) != tc.refused {
				t.Errorf("err %v: refused %v, want %v", err, !tc.refused, tc.refused)
			}
			if tc.refused && strings.Contains(err.Error(), billing.ErrSendRefused.Error()) {
				t.Errorf("reason %q: want Stripe's text only", err)
			}
		})
	}
}
