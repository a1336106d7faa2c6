package stripesync_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tally-billing/tally/stripesync"
)

// These tests cover a push made after Stripe forgot the idempotency keys
// (it keeps them 24 hours): objects are found again by their metadata. The
// proxy answers the searches and lists itself, since stripe-mock only
// returns fixtures.

func searchResult(path, objects string) fault {
	return respond(200, `{"object":"search_result","url":"`+path+`","has_more":false,"data":[`+objects+`]}`)
}

func list(path, objects string) fault {
	return respond(200, `{"object":"list","url":"`+path+`","has_more":false,"data":[`+objects+`]}`)
}

const (
	existingCustomer  = `{"id":"cus_existing","object":"customer","created":1700000000,"metadata":{"tally_tenant":"acme"}}`
	otherCustomer     = `{"id":"cus_other","object":"customer","created":1600000000,"metadata":{"tally_tenant":"acme-2"}}`
	existingDraft     = `{"id":"in_existing","object":"invoice","status":"draft","currency":"usd","customer":"cus_existing","metadata":{"tally_invoice_id":"INV-2025-05-acme"}}`
	existingOpen      = `{"id":"in_existing","object":"invoice","status":"open","currency":"usd","customer":"cus_existing","metadata":{"tally_invoice_id":"INV-2025-05-acme"}}`
	existingBaseItem  = `{"id":"ii_base","object":"invoiceitem","amount":31151,"currency":"usd","invoice":"in_existing","metadata":{"tally_invoice_id":"INV-2025-05-acme","tally_line_id":"base"}}`
	conflictingItem   = `{"id":"ii_base","object":"invoiceitem","amount":31150,"currency":"usd","invoice":"in_existing","metadata":{"tally_invoice_id":"INV-2025-05-acme","tally_line_id":"base"}}`
	invoiceOtherCusto = `{"id":"in_existing","object":"invoice","status":"draft","currency":"usd","customer":"cus_someone","metadata":{"tally_invoice_id":"INV-2025-05-acme"}}`
)

func TestPushInvoiceFindsExistingCustomer(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	p.inject(rCustomerSearch, searchResult("/v1/customers/search", otherCustomer+","+existingCustomer))

	res, err := c.PushInvoice(context.Background(), testInvoice(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.CustomerID != "cus_existing" {
		t.Errorf("customer %s, want cus_existing (the one whose metadata names the tenant)", res.CustomerID)
	}
	if n := len(p.on(rCustomerCreate)); n != 0 {
		t.Errorf("%d customer creates, want 0", n)
	}
	if got := p.on(rCustomerSearch)[0].Form.Get("query"); got != "metadata['tally_tenant']:'acme'" {
		t.Errorf("search query %q", got)
	}
}

// Where Customers search is not offered, the customer is created under its
// idempotency key.
func TestPushInvoiceCustomerSearchRejected(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	p.inject(rCustomerSearch, stripeError(400, "invalid_request_error", "", "Search is not supported on api.stripe.com in this region"))

	if _, err := c.PushInvoice(context.Background(), testInvoice(t)); err != nil {
		t.Fatal(err)
	}
	assertApplied(t, p, rCustomerCreate, 1)
}

func TestPushInvoiceResumesExistingDraft(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	p.inject(rCustomerSearch, searchResult("/v1/customers/search", existingCustomer))
	p.inject(rInvoiceSearch, searchResult("/v1/invoices/search", existingDraft))
	p.inject(rItemList, list("/v1/invoiceitems", existingBaseItem))

	res, err := c.PushInvoice(context.Background(), testInvoice(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.InvoiceID != "in_existing" {
		t.Errorf("invoice %s, want in_existing", res.InvoiceID)
	}
	if n := len(p.on(rInvoiceCreate)); n != 0 {
		t.Errorf("%d invoice creates, want 0", n)
	}
	var lines []string
	for _, ex := range p.on(rItemCreate) {
		lines = append(lines, ex.Form.Get("metadata[tally_line_id]"))
		if ex.Form.Get("invoice") != "in_existing" {
			t.Errorf("item on invoice %s", ex.Form.Get("invoice"))
		}
	}
	if want := []string{"seats", "discount"}; !slices.Equal(lines, want) {
		t.Errorf("created items for lines %v, want %v (base is already there)", lines, want)
	}
	if got := p.on(rItemList)[0].Form.Get("invoice"); got != "in_existing" {
		t.Errorf("listed items of invoice %q", got)
	}
	assertApplied(t, p, rFinalize, 1)
}

func TestPushInvoiceAlreadyFinalized(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	p.inject(rCustomerSearch, searchResult("/v1/customers/search", existingCustomer))
	p.inject(rInvoiceSearch, searchResult("/v1/invoices/search", existingOpen))

	res, err := c.PushInvoice(context.Background(), testInvoice(t))
	if err != nil {
		t.Fatal(err)
	}
	if res != (stripesync.InvoiceResult{CustomerID: "cus_existing", InvoiceID: "in_existing", Status: "open"}) {
		t.Errorf("result %+v", res)
	}
	if got, want := p.routes(), []string{rCustomerSearch, rInvoiceSearch}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want only %v", got, want)
	}
}

// Finalize rejected because the invoice is no longer a draft (finalized by
// an earlier run whose key expired): the invoice is read back and the push
// succeeds.
func TestPushInvoiceFinalizeRejectedButFinalized(t *testing.T) {
	t.Parallel()
	p := newStripeProxy(t)
	c := newClient(t, p)
	p.inject(rFinalize, stripeError(400, "invalid_request_error", "invoice_not_editable", "This invoice is already finalized"))
	p.inject(rInvoiceGet, respond(200, existingOpen))

	res, err := c.PushInvoice(context.Background(), testInvoice(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "open" {
		t.Errorf("status %q, want open", res.Status)
	}
}

func TestPushInvoiceConflicts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults map[string]fault
	}{
		{"item with another amount", map[string]fault{
			rCustomerSearch: searchResult("/v1/customers/search", existingCustomer),
			rInvoiceSearch:  searchResult("/v1/invoices/search", existingDraft),
			rItemList:       list("/v1/invoiceitems", conflictingItem),
		}},
		{"invoice of another customer", map[string]fault{
			rCustomerSearch: searchResult("/v1/customers/search", existingCustomer),
			rInvoiceSearch:  searchResult("/v1/invoices/search", invoiceOtherCusto),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newStripeProxy(t)
			c := newClient(t, p)
			for r, f := range tc.faults {
				p.inject(r, f)
			}
			_, err := c.PushInvoice(context.Background(), testInvoice(t))
			if !errors.Is(err, stripesync.ErrConflict) {
				t.Fatalf("err %v, want ErrConflict", err)
			}
			for _, r := range []string{rInvoiceCreate, rItemCreate, rFinalize} {
				if n := len(p.on(r)); n != 0 {
					t.Errorf("%s: %d writes after a conflict, want 0", r, n)
				}
			}
		})
	}
}
