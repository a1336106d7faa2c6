package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/payouts"
)

// Facts turns billing's and payouts' facts into messages with
// deterministic ids: it implements billing.Notifier and
// payouts.Notifier. Each fact's id depends only on the fact (the type
// and the invoice or payout id; for a hold, the provider, currency and
// run instant), so telling it twice is one message.
type Facts struct{ svc *Service }

// Facts returns the notifier the domains tell their facts to.
func (s *Service) Facts() *Facts { return &Facts{svc: s} }

var (
	_ billing.Notifier = (*Facts)(nil)
	_ payouts.Notifier = (*Facts)(nil)
)

// invoiceData is an invoice message's data.
type invoiceData struct {
	InvoiceID       string    `json:"invoice_id"`
	Tenant          string    `json:"tenant"`
	Period          string    `json:"period"`
	Kind            string    `json:"kind"`
	Currency        string    `json:"currency"`
	Total           string    `json:"total"`
	Status          string    `json:"status"`
	IssuedAt        time.Time `json:"issued_at"`
	StripeInvoiceID string    `json:"stripe_invoice_id,omitempty"`
}

func invoiceMessage(typ string, inv billing.Invoice, at time.Time) (Message, error) {
	d := invoiceData{InvoiceID: inv.ID, Tenant: inv.Tenant, Period: inv.Period, Kind: inv.Kind, Currency: inv.Currency,
		Total: money.FormatCode(inv.Total, inv.Currency), Status: inv.Status, IssuedAt: inv.IssuedAt.UTC(),
		StripeInvoiceID: inv.StripeInvoiceID}
	if typ == TypeInvoiceFinalized {
		d.Status, d.StripeInvoiceID = billing.StatusFinalized, "" // the fact, whatever happened since
	}
	return newMessage(typ, inv.Tenant, at, d, inv.ID)
}

// InvoicesFinalized emits invoice.finalized for each invoice, timestamped
// with its issue time.
func (f *Facts) InvoicesFinalized(ctx context.Context, invs []billing.Invoice) error {
	ms := make([]Message, 0, len(invs))
	for _, inv := range invs {
		m, err := invoiceMessage(TypeInvoiceFinalized, inv, inv.IssuedAt)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return f.svc.Emit(ctx, ms)
}

// InvoicesSent emits invoice.sent for each invoice.
func (f *Facts) InvoicesSent(ctx context.Context, invs []billing.Invoice) error {
	now := f.svc.cfg.Now()
	ms := make([]Message, 0, len(invs))
	for _, inv := range invs {
		m, err := invoiceMessage(TypeInvoiceSent, inv, now)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return f.svc.Emit(ctx, ms)
}

// payoutData is a payout message's data.
type payoutData struct {
	PayoutID         string    `json:"payout_id"`
	Provider         string    `json:"provider"`
	Currency         string    `json:"currency"`
	Amount           string    `json:"amount"`
	AsOf             time.Time `json:"as_of"`
	Status           string    `json:"status"`
	Reason           string    `json:"reason,omitempty"`
	StripeTransferID string    `json:"stripe_transfer_id,omitempty"`
}

// PayoutsSettled emits payout.paid or payout.failed for each payout.
func (f *Facts) PayoutsSettled(ctx context.Context, ps []payouts.Payout) error {
	now := f.svc.cfg.Now()
	ms := make([]Message, 0, len(ps))
	for _, p := range ps {
		typ := TypePayoutPaid
		if p.Status == payouts.StatusFailed {
			typ = TypePayoutFailed
		}
		d := payoutData{PayoutID: p.ID, Provider: p.Provider, Currency: p.Currency, Amount: money.FormatCode(p.Amount, p.Currency),
			AsOf: p.AsOf.UTC(), Status: p.Status, Reason: p.StatusReason, StripeTransferID: p.StripeTransferID}
		m, err := newMessage(typ, "", now, d, p.ID)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return f.svc.Emit(ctx, ms)
}

// heldData is a payout.held message's data.
type heldData struct {
	Provider  string    `json:"provider"`
	Currency  string    `json:"currency"`
	Available string    `json:"available"`
	AsOf      time.Time `json:"as_of"`
	Reason    string    `json:"reason"`
}

// PayoutsHeld emits payout.held for each balance, timestamped with the
// run's as-of time.
func (f *Facts) PayoutsHeld(ctx context.Context, asOf time.Time, held []payouts.Held) error {
	ms := make([]Message, 0, len(held))
	for _, h := range held {
		d := heldData{Provider: h.Provider, Currency: h.Currency, Available: money.FormatCode(h.Available, h.Currency),
			AsOf: asOf.UTC(), Reason: "kyc_missing"}
		m, err := newMessage(TypePayoutHeld, "", asOf, d, h.Provider, h.Currency, asOf.UTC().Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return f.svc.Emit(ctx, ms)
}

func newMessage(typ, tenant string, at time.Time, data any, key ...string) (Message, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Message{}, fmt.Errorf("encoding %s data: %w", typ, err)
	}
	return Message{ID: MessageID(typ, key...), Type: typ, Tenant: tenant, Timestamp: at.UTC(), Data: raw}, nil
}
