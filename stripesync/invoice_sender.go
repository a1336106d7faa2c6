package stripesync

import (
	"context"

	"github.com/tally-billing/tally/billing"
)

// InvoiceSender is billing's invoice sender on Stripe: it implements
// [billing.InvoiceSender] with [Client.PushInvoice], translating billing's
// request into an [Invoice] and Stripe's refusals into
// [billing.ErrSendRefused].
type InvoiceSender struct {
	c *Client
}

// NewInvoiceSender returns billing's invoice sender pushing through c.
func NewInvoiceSender(c *Client) *InvoiceSender { return &InvoiceSender{c: c} }

// SendInvoice pushes inv as a finalized Stripe invoice (see
// [Client.PushInvoice] for the order of effects; every step is safe to
// repeat). An invoice Stripe rejected with a 4xx ([ErrRejected]), one that
// cannot be expressed in Stripe ([ErrInvalid]) and one Stripe holds with
// other contents ([ErrConflict]) come back wrapping
// [billing.ErrSendRefused] as well; the text stays this package's, the
// reason billing stores. Anything else (Stripe unavailable, ctx done) is
// returned as it is, for billing to retry.
func (s *InvoiceSender) SendInvoice(ctx context.Context, inv billing.InvoicePush) (billing.PushedInvoice, error) {
	req := Invoice{ID: inv.ID, Tenant: inv.Tenant, Period: inv.Period, Currency: inv.Currency, CustomerID: inv.CustomerID,
		Lines: make([]InvoiceLine, 0, len(inv.Lines))}
	for _, l := range inv.Lines {
		req.Lines = append(req.Lines, InvoiceLine{ID: l.ID, Description: l.Description, Amount: l.Amount})
	}
	res, err := s.c.PushInvoice(ctx, req)
	return billing.PushedInvoice{CustomerID: res.CustomerID, InvoiceID: res.InvoiceID}, asRefusal(err, billing.ErrSendRefused)
}
