package stripesync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/stripe/stripe-go/v76"

	"github.com/tally-billing/tally/money"
)

// InvoiceLine is one line of a Tally invoice.
type InvoiceLine struct {
	ID          string          // Tally line id, unique within the invoice
	Description string          // shown on the Stripe invoice
	Amount      decimal.Decimal // in the invoice currency; negative for discounts
}

// Invoice is a finalized Tally invoice to push.
type Invoice struct {
	ID         string // Tally invoice id
	Tenant     string
	Period     string // YYYY-MM, written to the invoice's metadata
	Currency   money.Currency
	Lines      []InvoiceLine
	CustomerID string // the tenant's Stripe customer id if already known
}

// InvoiceResult names what Stripe holds for the invoice after a push.
type InvoiceResult struct {
	CustomerID string
	InvoiceID  string // Stripe invoice id (in_...)
	Status     string // Stripe invoice status: "open" once finalized
}

func stripeCurrency(c money.Currency) string { return strings.ToLower(c.Code) }

// plannedLine is an InvoiceLine converted for Stripe.
type plannedLine struct {
	InvoiceLine
	minor int64
	key   string
}

// planInvoice validates inv and converts its amounts to minor units, so that
// nothing is sent for an invoice that cannot be pushed whole.
func planInvoice(inv Invoice) ([]plannedLine, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("checking invoice %q: %s: %w", inv.ID, fmt.Sprintf(format, args...), ErrInvalid)
	}
	if inv.ID == "" {
		return nil, bad("id is empty")
	}
	if inv.Tenant == "" {
		return nil, bad("tenant is empty")
	}
	if err := checkCurrency(inv.Currency); err != nil {
		return nil, bad("%v", err)
	}
	if len(inv.Lines) == 0 {
		return nil, bad("no lines")
	}
	for _, k := range []string{customerKey(inv.Tenant), invoiceKey(inv.ID), finalizeKey(inv.ID)} {
		if len(k) > maxIdempotencyKey {
			return nil, bad("idempotency key %.40q... longer than %d", k, maxIdempotencyKey)
		}
	}
	lines := make([]plannedLine, 0, len(inv.Lines))
	seen := make(map[string]bool, len(inv.Lines))
	for i, l := range inv.Lines {
		if l.ID == "" {
			return nil, bad("line %d: id is empty", i)
		}
		if seen[l.ID] {
			return nil, bad("line %d: duplicate id %q", i, l.ID)
		}
		seen[l.ID] = true
		minor, err := inv.Currency.ToMinor(l.Amount)
		if err != nil {
			return nil, fmt.Errorf("checking invoice %q: line %q: %w: %w", inv.ID, l.ID, ErrInvalid, err)
		}
		key := itemKey(inv.ID, l.ID)
		if len(key) > maxIdempotencyKey {
			return nil, bad("line %q: idempotency key longer than %d", l.ID, maxIdempotencyKey)
		}
		lines = append(lines, plannedLine{InvoiceLine: l, minor: minor, key: key})
	}
	return lines, nil
}

// checkCurrency accepts only a currency money knows, with its own minor
// units (a zero Currency{} or a hand-made one with wrong digits is refused).
func checkCurrency(c money.Currency) error {
	known, err := money.LookupCurrency(c.Code)
	if err != nil {
		return err
	}
	if known != c {
		return fmt.Errorf("currency %s with %d minor digits, want %d", c.Code, c.MinorUnits, known.MinorUnits)
	}
	return nil
}

// PushInvoice makes Stripe hold inv as a finalized invoice and returns its
// ids. It is safe to call again after any failure, or after success: every
// step is found again or replayed, never duplicated.
//
// Order of effects:
//  1. customer: inv.CustomerID if given; else the customer whose metadata
//     tally_tenant is inv.Tenant (Customers search); else a new one, key
//     tally-customer-<tenant>;
//  2. invoice: the invoice whose metadata tally_invoice_id is inv.ID
//     (Invoices search; it must belong to the customer and currency); else
//     a new draft (send_invoice, days_until_due, auto_advance false,
//     pending_invoice_items_behavior exclude), key tally-invoice-<ID>. An
//     invoice found already past draft is returned as it is;
//  3. one invoice item per line not yet on the invoice (matched by metadata
//     tally_line_id; an existing item with another amount is ErrConflict),
//     key tally-item-<ID>-<lineID>, amount in minor units;
//  4. finalize, key tally-finalize-<ID>.
//
// Searches cover the case where the idempotency keys have expired (Stripe
// keeps them 24 hours); the keys cover the case where a search has not yet
// seen a fresh object (Stripe's search is eventually consistent).
//
// Errors: ErrInvalid before any request; a *PermanentError (ErrRejected)
// for a 4xx; ErrUnavailable when retries ran out; ErrConflict; ctx's error.
func (c *Client) PushInvoice(ctx context.Context, inv Invoice) (InvoiceResult, error) {
	lines, err := planInvoice(inv)
	if err != nil {
		return InvoiceResult{}, err
	}
	log := c.log.With().Str("tally_invoice_id", inv.ID).Str("tenant", inv.Tenant).Logger()

	var res InvoiceResult
	res.CustomerID, err = c.ensureCustomer(ctx, inv.Tenant, inv.CustomerID)
	if err != nil {
		return res, fmt.Errorf("pushing invoice %s: %w", inv.ID, err)
	}

	si, err := c.ensureInvoice(ctx, inv, res.CustomerID)
	if err != nil {
		return res, fmt.Errorf("pushing invoice %s: %w", inv.ID, err)
	}
	res.InvoiceID, res.Status = si.ID, string(si.Status)
	if si.Status != "" && si.Status != stripe.InvoiceStatusDraft {
		log.Info().Str("stripe_invoice_id", si.ID).Str("status", res.Status).Msg("invoice already past draft in stripe")
		return res, nil
	}

	created, err := c.ensureItems(ctx, inv, res.CustomerID, si.ID, lines)
	if err != nil {
		return res, fmt.Errorf("pushing invoice %s: %w", inv.ID, err)
	}

	fin, err := c.finalize(ctx, inv.ID, si.ID)
	if err != nil {
		return res, fmt.Errorf("pushing invoice %s: %w", inv.ID, err)
	}
	res.Status = string(fin.Status)
	log.Info().Str("stripe_customer_id", res.CustomerID).Str("stripe_invoice_id", res.InvoiceID).
		Str("status", res.Status).Int("items_created", created).Int("lines", len(lines)).Msg("invoice pushed")
	return res, nil
}

// ensureInvoice finds the Stripe invoice carrying inv.ID, or creates it.
func (c *Client) ensureInvoice(ctx context.Context, inv Invoice, customerID string) (*stripe.Invoice, error) {
	var found *stripe.Invoice
	err := c.call(ctx, "searching invoice", "", func(ctx context.Context) error {
		found = nil
		it := c.invoices.Search(&stripe.InvoiceSearchParams{SearchParams: stripe.SearchParams{
			Context: ctx, Query: metaQuery(MetaInvoiceID, inv.ID), Limit: stripe.Int64(20),
		}})
		for it.Next() {
			si := it.Invoice()
			if si.Metadata[MetaInvoiceID] != inv.ID {
				continue
			}
			if found != nil && found.ID != si.ID {
				return fmt.Errorf("invoices %s and %s both carry %s %q: %w", found.ID, si.ID, MetaInvoiceID, inv.ID, ErrConflict)
			}
			found = si
		}
		return it.Err()
	})
	switch {
	case err == nil && found != nil:
		return found, checkFoundInvoice(found, inv, customerID)
	case err == nil:
	case isRejected(err):
		c.log.Warn().Err(err).Str("tally_invoice_id", inv.ID).Msg("invoice search unavailable, creating under idempotency key")
	default:
		return nil, err
	}

	var si *stripe.Invoice
	key := invoiceKey(inv.ID)
	err = c.call(ctx, "creating invoice", key, func(ctx context.Context) error {
		p := &stripe.InvoiceParams{
			Customer:                    stripe.String(customerID),
			Currency:                    stripe.String(stripeCurrency(inv.Currency)),
			CollectionMethod:            stripe.String(string(stripe.InvoiceCollectionMethodSendInvoice)),
			DaysUntilDue:                stripe.Int64(int64(c.cfg.DaysUntilDue)),
			AutoAdvance:                 stripe.Bool(false),
			PendingInvoiceItemsBehavior: stripe.String("exclude"),
		}
		p.Context = ctx
		p.SetIdempotencyKey(key)
		p.AddMetadata(MetaInvoiceID, inv.ID)
		p.AddMetadata(MetaTenant, inv.Tenant)
		if inv.Period != "" {
			p.AddMetadata("tally_period", inv.Period)
		}
		var err error
		si, err = c.invoices.New(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return si, nil
}

// checkFoundInvoice refuses to reuse an invoice that carries inv's id but
// belongs elsewhere.
func checkFoundInvoice(si *stripe.Invoice, inv Invoice, customerID string) error {
	if si.Customer != nil && si.Customer.ID != "" && si.Customer.ID != customerID {
		return fmt.Errorf("stripe invoice %s for %s %q belongs to customer %s, not %s: %w", si.ID, MetaInvoiceID, inv.ID, si.Customer.ID, customerID, ErrConflict)
	}
	if si.Currency != "" && string(si.Currency) != stripeCurrency(inv.Currency) {
		return fmt.Errorf("stripe invoice %s for %s %q is in %s, not %s: %w", si.ID, MetaInvoiceID, inv.ID, si.Currency, inv.Currency, ErrConflict)
	}
	return nil
}

// ensureItems creates the invoice items not yet on the draft invoice and
// returns how many it created.
func (c *Client) ensureItems(ctx context.Context, inv Invoice, customerID, invoiceID string, lines []plannedLine) (int, error) {
	existing := map[string]int64{}
	err := c.call(ctx, "listing invoice items", "", func(ctx context.Context) error {
		clear(existing)
		p := &stripe.InvoiceItemListParams{Invoice: stripe.String(invoiceID)}
		p.Context = ctx
		p.Limit = stripe.Int64(100)
		it := c.items.List(p)
		for it.Next() {
			ii := it.InvoiceItem()
			if ii.Invoice != nil && ii.Invoice.ID != "" && ii.Invoice.ID != invoiceID {
				continue // a fixture from stripe-mock; Stripe filters by invoice
			}
			if line := ii.Metadata[MetaLineID]; line != "" && ii.Metadata[MetaInvoiceID] == inv.ID {
				existing[line] = ii.Amount
			}
		}
		return it.Err()
	})
	if err != nil {
		return 0, err
	}

	created := 0
	for _, l := range lines {
		if amount, ok := existing[l.ID]; ok {
			if amount != l.minor {
				return created, fmt.Errorf("invoice item for line %q on %s has amount %d, want %d minor units: %w", l.ID, invoiceID, amount, l.minor, ErrConflict)
			}
			continue
		}
		err := c.call(ctx, "creating invoice item "+l.ID, l.key, func(ctx context.Context) error {
			p := &stripe.InvoiceItemParams{
				Customer:    stripe.String(customerID),
				Invoice:     stripe.String(invoiceID),
				Currency:    stripe.String(stripeCurrency(inv.Currency)),
				Amount:      stripe.Int64(l.minor),
				Description: stripe.String(l.Description),
			}
			if l.Description == "" {
				p.Description = nil
			}
			p.Context = ctx
			p.SetIdempotencyKey(l.key)
			p.AddMetadata(MetaInvoiceID, inv.ID)
			p.AddMetadata(MetaLineID, l.ID)
			_, err := c.items.New(p)
			return err
		})
		if err != nil {
			return created, err
		}
		created++
	}
	return created, nil
}

// finalize finalizes the draft invoice. If Stripe rejects it, the invoice
// is read back: one already finalized (its key expired, or someone
// finalized it by hand) counts as success.
func (c *Client) finalize(ctx context.Context, tallyID, invoiceID string) (*stripe.Invoice, error) {
	var si *stripe.Invoice
	key := finalizeKey(tallyID)
	err := c.call(ctx, "finalizing invoice", key, func(ctx context.Context) error {
		p := &stripe.InvoiceFinalizeInvoiceParams{AutoAdvance: stripe.Bool(false)}
		p.Context = ctx
		p.SetIdempotencyKey(key)
		var err error
		si, err = c.invoices.FinalizeInvoice(invoiceID, p)
		return err
	})
	if err == nil || !isRejected(err) {
		return si, err
	}
	var got *stripe.Invoice
	gerr := c.call(ctx, "reading invoice", "", func(ctx context.Context) error {
		p := &stripe.InvoiceParams{}
		p.Context = ctx
		var err error
		got, err = c.invoices.Get(invoiceID, p)
		return err
	})
	if gerr == nil && got.Status != "" && got.Status != stripe.InvoiceStatusDraft {
		c.log.Info().Str("stripe_invoice_id", invoiceID).Str("status", string(got.Status)).Msg("finalize rejected but invoice already finalized")
		return got, nil
	}
	return nil, err
}

func isRejected(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
