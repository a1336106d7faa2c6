package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tally-billing/tally/billing"
)

// SaveInvoices stores new invoices and their lines, in two inserts
// whatever their number. Lines go in first: an invoice row is only
// visible once all its lines are stored, and storing the same invoice
// again (same id) replaces rows with identical ones.
func (s *Invoices) SaveInvoices(ctx context.Context, invs []billing.Invoice) error {
	if len(invs) == 0 {
		return nil
	}
	lines, err := s.conn.PrepareBatch(ctx, `INSERT INTO invoice_lines
(invoice_id, line_no, tenant, kind, item, adjusts, description, quantity, unit_price, amount, period, flags,
 plan, term, seat_type, meter, used, included, committed, from_packs, pack_credits)`)
	if err != nil {
		return fmt.Errorf("preparing invoice lines: %w", err)
	}
	defer lines.Abort()
	for _, inv := range invs {
		for i, l := range inv.Lines {
			flags := l.Flags
			if flags == nil {
				flags = []string{}
			}
			if err := lines.Append(inv.ID, uint32(i+1), inv.Tenant, l.Kind, l.Item, l.Adjusts, l.Description, l.Quantity, l.UnitPrice, l.Amount, l.Period, flags,
				l.Plan, l.Term, l.SeatType, l.Meter, l.Used, l.Included, l.Committed, l.FromPacks, l.PackCredits); err != nil {
				return fmt.Errorf("appending a line of invoice %s: %w", inv.ID, err)
			}
		}
	}
	if lines.Rows() > 0 {
		if err := lines.Send(); err != nil {
			return fmt.Errorf("inserting invoice lines: %w", err)
		}
	}
	versions := make(map[string]uint64, len(invs))
	for _, inv := range invs {
		versions[inv.ID] = 1
	}
	return s.writeInvoiceRows(ctx, invs, versions)
}

// UpdateInvoiceStatuses records new statuses (and Stripe ids) of stored
// invoices, each as the next version of its row.
func (s *Invoices) UpdateInvoiceStatuses(ctx context.Context, invs []billing.Invoice) error {
	if len(invs) == 0 {
		return nil
	}
	ids := make([]string, len(invs))
	for i, inv := range invs {
		ids[i] = inv.ID
	}
	versions, err := latestVersions(ctx, s.conn, "invoices", "invoice_id", ids)
	if err != nil {
		return err
	}
	return s.writeInvoiceRows(ctx, invs, versions)
}

func (s *Invoices) writeInvoiceRows(ctx context.Context, invs []billing.Invoice, versions map[string]uint64) error {
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO invoices
(invoice_id, tenant, period, kind, currency, price_book_version, subtotal, discount, total, status, status_reason,
 stripe_customer_id, stripe_invoice_id, issued_at, version)`)
	if err != nil {
		return fmt.Errorf("preparing invoices insert: %w", err)
	}
	defer b.Abort()
	for _, inv := range invs {
		if err := b.Append(inv.ID, inv.Tenant, inv.Period, inv.Kind, inv.Currency, inv.PriceBookVersion, inv.Subtotal,
			inv.Discount, inv.Total, inv.Status, inv.StatusReason, inv.StripeCustomerID, inv.StripeInvoiceID, inv.IssuedAt,
			versions[inv.ID]); err != nil {
			return fmt.Errorf("appending invoice %s: %w", inv.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting invoices: %w", err)
	}
	return nil
}

// Invoices returns the latest version of every matching invoice, with its
// lines, ordered by period, tenant and kind.
func (s *Invoices) Invoices(ctx context.Context, f billing.InvoiceFilter) ([]billing.Invoice, error) {
	rows, err := s.conn.Query(ctx, `
SELECT invoice_id, tenant, period, kind, currency, price_book_version, subtotal, discount, total,
       status, status_reason, stripe_customer_id, stripe_invoice_id, issued_at
FROM invoices FINAL
WHERE (? = '' OR tenant = ?) AND (? = '' OR period = ?) AND (? = '' OR invoice_id = ?)
ORDER BY period, tenant, kind, issued_at`, f.Tenant, f.Tenant, f.Period, f.Period, f.ID, f.ID)
	if err != nil {
		return nil, fmt.Errorf("querying invoices: %w", err)
	}
	defer rows.Close()
	var out []billing.Invoice
	index := map[string]int{}
	for rows.Next() {
		var inv billing.Invoice
		if err := rows.Scan(&inv.ID, &inv.Tenant, &inv.Period, &inv.Kind, &inv.Currency, &inv.PriceBookVersion,
			&inv.Subtotal, &inv.Discount, &inv.Total, &inv.Status, &inv.StatusReason, &inv.StripeCustomerID,
			&inv.StripeInvoiceID, &inv.IssuedAt); err != nil {
			return nil, fmt.Errorf("scanning invoice: %w", err)
		}
		inv.IssuedAt = inv.IssuedAt.UTC()
		index[inv.ID] = len(out)
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(out))
	for _, inv := range out {
		ids = append(ids, inv.ID)
	}
	lctx, err := withKeys(ctx, "listed_ids", "String", ids)
	if err != nil {
		return nil, err
	}
	lrows, err := s.conn.Query(lctx, `
SELECT invoice_id, kind, item, adjusts, description, quantity, unit_price, amount, period, flags,
       plan, term, seat_type, meter, used, included, committed, from_packs, pack_credits
FROM invoice_lines FINAL
WHERE invoice_id IN (SELECT key FROM listed_ids)
ORDER BY invoice_id, line_no`)
	if err != nil {
		return nil, fmt.Errorf("querying invoice lines: %w", err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var id string
		var l billing.Line
		if err := lrows.Scan(&id, &l.Kind, &l.Item, &l.Adjusts, &l.Description, &l.Quantity, &l.UnitPrice, &l.Amount, &l.Period, &l.Flags,
			&l.Plan, &l.Term, &l.SeatType, &l.Meter, &l.Used, &l.Included, &l.Committed, &l.FromPacks, &l.PackCredits); err != nil {
			return nil, fmt.Errorf("scanning invoice line: %w", err)
		}
		if len(l.Flags) == 0 {
			l.Flags = nil
		}
		i := index[id]
		out[i].Lines = append(out[i].Lines, l)
	}
	return out, lrows.Err()
}

// StripeCustomer returns the Stripe customer id remembered for a tenant, or "".
func (s *Invoices) StripeCustomer(ctx context.Context, tenant string) (string, error) {
	var id string
	err := s.conn.QueryRow(ctx, `SELECT any(customer_id) FROM stripe_customers WHERE tenant = ?`, tenant).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("reading stripe customer: %w", err)
	}
	return id, nil
}

// SaveStripeCustomer remembers a tenant's Stripe customer id.
func (s *Invoices) SaveStripeCustomer(ctx context.Context, tenant, customerID string, at time.Time) error {
	if err := s.conn.Exec(ctx, `INSERT INTO stripe_customers (tenant, customer_id, created_at) VALUES (?, ?, ?)`,
		tenant, customerID, at); err != nil {
		return fmt.Errorf("saving stripe customer: %w", err)
	}
	return nil
}

// ClosedPeriod reports when a period was first closed (zero if it was not)
// and how many tenants that close could not rate.
func (s *Invoices) ClosedPeriod(ctx context.Context, period string) (time.Time, int, error) {
	var n uint64
	var at time.Time
	var failed uint32
	if err := s.conn.QueryRow(ctx, `SELECT count(), min(closed_at), argMin(failed_tenants, closed_at) FROM closed_periods WHERE period = ?`,
		period).Scan(&n, &at, &failed); err != nil {
		return time.Time{}, 0, fmt.Errorf("reading closed period: %w", err)
	}
	if n == 0 {
		return time.Time{}, 0, nil
	}
	return at.UTC(), int(failed), nil
}

// ClosedPeriods lists the closed periods, oldest first.
func (s *Invoices) ClosedPeriods(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT period FROM closed_periods ORDER BY period`)
	if err != nil {
		return nil, fmt.Errorf("listing closed periods: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("scanning closed period: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RecordClosedPeriod records that a period is closed.
func (s *Invoices) RecordClosedPeriod(ctx context.Context, period string, at time.Time, invoices, failed int) error {
	if err := s.conn.Exec(ctx, `INSERT INTO closed_periods (period, closed_at, invoices, failed_tenants) VALUES (?, ?, ?, ?)`,
		period, at, uint32(invoices), uint32(failed)); err != nil {
		return fmt.Errorf("recording closed period: %w", err)
	}
	return nil
}
