package billing

import (
	"context"
	"errors"
	"sync"
)

// errUnavailable is a transient failure of the fake provider.
var errUnavailable = errors.New("provider unavailable")

// fakeSender is an in-memory payment provider. Like Stripe under
// idempotency keys, it holds one invoice per id however often the invoice
// is sent, and one customer per tenant; it counts every send.
type fakeSender struct {
	mu        sync.Mutex
	sends     map[string]int         // invoice id → SendInvoice calls
	held      map[string]InvoicePush // invoice id → the invoice the provider holds
	customers map[string]string      // tenant → customer id
	given     map[string][]string    // invoice id → the CustomerID of each send
	// fail, when set, decides a send's failure before anything is held:
	// an error wrapping ErrSendRefused is a refusal, any other an outage.
	fail func(inv InvoicePush) error
}

func newFakeSender() *fakeSender {
	return &fakeSender{sends: map[string]int{}, held: map[string]InvoicePush{}, customers: map[string]string{},
		given: map[string][]string{}}
}

func (f *fakeSender) SendInvoice(_ context.Context, inv InvoicePush) (PushedInvoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends[inv.ID]++
	f.given[inv.ID] = append(f.given[inv.ID], inv.CustomerID)
	if f.fail != nil {
		if err := f.fail(inv); err != nil {
			return PushedInvoice{}, err
		}
	}
	customer := inv.CustomerID
	if customer == "" {
		if customer = f.customers[inv.Tenant]; customer == "" {
			customer = "cus_" + inv.Tenant
			f.customers[inv.Tenant] = customer
		}
	}
	f.held[inv.ID] = inv
	return PushedInvoice{CustomerID: customer, InvoiceID: "in_" + inv.ID}, nil
}

// sent returns how many times the invoice was sent.
func (f *fakeSender) sent(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends[id]
}
